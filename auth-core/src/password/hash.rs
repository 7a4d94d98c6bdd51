//! Hashing and verification as plain, synchronous functions.
//!
//! New hashes are always Argon2id PHC strings. Verification also accepts the schemes that
//! services we replace stored (bcrypt `$2a$`/`$2b$`/`$2y$`, PBKDF2-SHA256/512 and scrypt in PHC
//! form, Argon2i/Argon2d) and reports that such a hash must be replaced by an Argon2id hash
//! at the configured parameters on the next successful login.
//!
//! These functions are CPU- and memory-heavy by design. In async code use
//! [`PasswordService`](super::PasswordService), which runs them on a bounded blocking pool.
//!
//! Argon2 runs in a block buffer that each thread keeps and reuses (see `memory.rs`);
//! this module writes and checks the PHC strings around it, byte for byte as the argon2
//! crate's own `PasswordHasher` does.

use std::fmt;

use argon2::{Algorithm, Argon2, Version};
use password_hash::PasswordVerifier;
use password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use subtle::ConstantTimeEq as _;
use zeroize::Zeroizing;

use super::argon2_buffer;
use super::policy::NormalizedPassword;
use crate::error::{Error, Result};

/// Argon2id cost parameters, stored in every PHC string this crate writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Argon2Params {
    memory_kib: u32,
    iterations: u32,
    parallelism: u32,
}

impl Argon2Params {
    /// OWASP's recommended memory cost: 19 MiB.
    pub const DEFAULT_MEMORY_KIB: u32 = 19_456;
    /// OWASP's recommended iteration count at 19 MiB.
    pub const DEFAULT_ITERATIONS: u32 = 2;
    /// OWASP's recommended degree of parallelism.
    pub const DEFAULT_PARALLELISM: u32 = 1;

    /// Parameters at or above OWASP's minimum (m = 19 MiB, t = 2, p = 1), and below limits
    /// that would let one hash take a gibibyte of memory.
    pub fn new(memory_kib: u32, iterations: u32, parallelism: u32) -> Result<Self> {
        if memory_kib < Self::DEFAULT_MEMORY_KIB {
            return Err(Error::Config(format!(
                "argon2 memory cost {memory_kib} KiB is below the minimum of {} KiB",
                Self::DEFAULT_MEMORY_KIB
            )));
        }
        if memory_kib > MAX_ARGON2_MEMORY_KIB {
            return Err(Error::Config(format!(
                "argon2 memory cost {memory_kib} KiB is above the limit of {MAX_ARGON2_MEMORY_KIB} KiB"
            )));
        }
        if iterations < Self::DEFAULT_ITERATIONS {
            return Err(Error::Config(format!(
                "argon2 iterations {iterations} are below the minimum of {}",
                Self::DEFAULT_ITERATIONS
            )));
        }
        if !(1..=MAX_ARGON2_PARALLELISM).contains(&parallelism) {
            return Err(Error::Config(format!(
                "argon2 parallelism {parallelism} is outside 1..={MAX_ARGON2_PARALLELISM}"
            )));
        }
        let params = Self {
            memory_kib,
            iterations,
            parallelism,
        };
        params.to_argon2()?;
        Ok(params)
    }

    /// Memory cost in KiB (`m`).
    pub fn memory_kib(&self) -> u32 {
        self.memory_kib
    }

    /// Number of passes (`t`).
    pub fn iterations(&self) -> u32 {
        self.iterations
    }

    /// Degree of parallelism (`p`).
    pub fn parallelism(&self) -> u32 {
        self.parallelism
    }

    fn to_argon2(self) -> Result<argon2::Params> {
        argon2::Params::new(self.memory_kib, self.iterations, self.parallelism, None)
            .map_err(|e| Error::Config(format!("argon2 parameters: {e}")))
    }

    /// Argon2 memory blocks a hash at these parameters works in.
    fn block_count(self) -> Result<usize> {
        Ok(self.to_argon2()?.block_count())
    }
}

impl Default for Argon2Params {
    fn default() -> Self {
        Self {
            memory_kib: Self::DEFAULT_MEMORY_KIB,
            iterations: Self::DEFAULT_ITERATIONS,
            parallelism: Self::DEFAULT_PARALLELISM,
        }
    }
}

/// The scheme of a stored password hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HashScheme {
    /// Argon2id: the scheme new hashes use.
    Argon2id,
    /// Argon2i (legacy).
    Argon2i,
    /// Argon2d (legacy).
    Argon2d,
    /// bcrypt, any of `$2a$`, `$2b$`, `$2x$`, `$2y$` (legacy).
    Bcrypt,
    /// PBKDF2 with HMAC-SHA-256 in PHC form (legacy).
    Pbkdf2Sha256,
    /// PBKDF2 with HMAC-SHA-512 in PHC form (legacy).
    Pbkdf2Sha512,
    /// scrypt in PHC form (legacy).
    Scrypt,
}

impl HashScheme {
    /// Recognises the scheme of a stored hash string from its prefix.
    pub fn of(stored: &str) -> Result<Self> {
        let scheme = match stored.split('$').nth(1) {
            Some("argon2id") => Self::Argon2id,
            Some("argon2i") => Self::Argon2i,
            Some("argon2d") => Self::Argon2d,
            Some("2a" | "2b" | "2x" | "2y") => Self::Bcrypt,
            Some("pbkdf2-sha256") => Self::Pbkdf2Sha256,
            Some("pbkdf2-sha512") => Self::Pbkdf2Sha512,
            Some("scrypt") => Self::Scrypt,
            _ => return Err(Error::InvalidHash("unknown hash scheme".into())),
        };
        Ok(scheme)
    }

    /// Whether hashes of this scheme are always replaced on the next successful login.
    pub fn is_legacy(self) -> bool {
        self != Self::Argon2id
    }
}

/// The outcome of checking a password against a stored hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub enum Verification {
    /// The password matches.
    Valid {
        /// The stored hash uses a legacy scheme or other parameters than the configured ones:
        /// hash the password again and store the new hash.
        needs_rehash: bool,
    },
    /// The password does not match.
    Invalid,
}

impl Verification {
    /// Whether the password matched.
    pub fn is_valid(self) -> bool {
        matches!(self, Self::Valid { .. })
    }
}

/// Largest Argon2 memory cost accepted in configuration: 1 GiB. A stored hash may ask for at
/// most [`STORED_ARGON2_MEMORY_FACTOR`] times the configured cost.
pub const MAX_ARGON2_MEMORY_KIB: u32 = 1024 * 1024;
/// How many times the configured Argon2 memory cost a stored hash may ask for: enough for
/// hashes of a stronger past configuration, never enough for a planted hash to exhaust memory.
pub const STORED_ARGON2_MEMORY_FACTOR: u32 = 4;
const MAX_ARGON2_PARALLELISM: u32 = 16;
const MAX_ARGON2_ITERATIONS: u32 = 64;
/// Bounds on what a stored legacy hash may cost, checked before any work: a planted hash must
/// not make one unauthenticated login allocate gigabytes or run for seconds. bcrypt cost 14
/// is about a second; PBKDF2 at 2,000,000 rounds about as much; scrypt at ln=17, r=8, p=1
/// takes 128 MiB.
const MAX_BCRYPT_COST: u32 = 14;
const MAX_PBKDF2_ROUNDS: u32 = 2_000_000;
const MAX_SCRYPT_LOG_N: u32 = 17;
const MAX_SCRYPT_R: u32 = 8;
const MAX_SCRYPT_P: u32 = 1;
const MAX_STORED_HASH_LEN: usize = 512;

/// Hashes a normalised password with Argon2id at `params`, with a fresh random salt.
///
/// The `m` KiB Argon2 works in is allocated for the hash and freed after it, except on the
/// hashing threads of [`PasswordService`](super::PasswordService), which each keep one buffer
/// for all their hashes.
pub fn hash_password(params: Argon2Params, password: &NormalizedPassword) -> Result<String> {
    let salt = password_hash::try_generate_salt()
        .map_err(|e| Error::Internal(format!("cannot draw a salt: {e}")))?;
    hash_with_salt(params, password.as_bytes(), &salt)
}

/// The Argon2id PHC string of `password` with `salt` at `params`.
fn hash_with_salt(params: Argon2Params, password: &[u8], salt: &[u8]) -> Result<String> {
    let failed = |e: &dyn fmt::Display| Error::Internal(format!("argon2 hashing failed: {e}"));
    let argon2_params = params.to_argon2()?;
    let salt = Salt::new(salt).map_err(|e| failed(&e))?;
    let hasher = Argon2::new(Algorithm::Argon2id, Version::V0x13, argon2_params.clone());
    let mut output = [0u8; argon2::Params::DEFAULT_OUTPUT_LEN];
    let blocks = argon2_params.block_count();
    argon2_buffer::with_blocks(blocks, blocks, |memory| {
        hasher.hash_password_into_with_memory(password, &salt, &mut output, memory)
    })?
    .map_err(|e| failed(&e))?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&argon2_params).map_err(|e| failed(&e))?,
        salt: Some(salt),
        hash: Some(Output::new(&output).map_err(|e| failed(&e))?),
    };
    Ok(phc.to_string())
}

/// Checks `raw_password` against `stored`, and says whether a match must be rehashed to
/// Argon2id at `params`.
///
/// Argon2 hashes are checked against the NFKC form of the password (the form this crate
/// hashes). Legacy hashes are checked against the password exactly as given, as the system
/// that wrote them did; bcrypt, like every bcrypt implementation, reads only the first 72
/// bytes. A malformed or unknown hash is [`Error::InvalidHash`], never a panic.
///
/// Memory as for [`hash_password`]; on a hashing thread of the service, a stored hash at a
/// larger `m` than `params` (up to [`MAX_ARGON2_MEMORY_KIB`]) is checked in memory that is
/// freed right after.
pub fn verify_password(
    params: Argon2Params,
    raw_password: &str,
    stored: &str,
) -> Result<Verification> {
    if stored.len() > MAX_STORED_HASH_LEN {
        return Err(Error::InvalidHash("hash string too long".into()));
    }
    let scheme = HashScheme::of(stored)?;
    let matched = match scheme {
        HashScheme::Argon2id | HashScheme::Argon2i | HashScheme::Argon2d => {
            let hash = parse_phc(stored)?;
            check_argon2_limits(params, &hash)?;
            let normalized = NormalizedPassword::new(raw_password);
            let matched = verify_argon2(params, normalized.as_bytes(), &hash)?;
            if matched && !needs_argon2_rehash(params, &hash)? {
                return Ok(Verification::Valid {
                    needs_rehash: false,
                });
            }
            matched
        }
        HashScheme::Bcrypt => verify_bcrypt(raw_password, stored)?,
        HashScheme::Pbkdf2Sha256 | HashScheme::Pbkdf2Sha512 => {
            let hash = parse_phc(stored)?;
            check_pbkdf2_limits(&hash)?;
            phc_verify(&pbkdf2::Pbkdf2::default(), raw_password.as_bytes(), &hash)?
        }
        HashScheme::Scrypt => {
            let hash = parse_phc(stored)?;
            check_scrypt_limits(&hash)?;
            phc_verify(&scrypt::Scrypt::default(), raw_password.as_bytes(), &hash)?
        }
    };
    Ok(if matched {
        Verification::Valid { needs_rehash: true }
    } else {
        Verification::Invalid
    })
}

/// Whether a stored hash (which need not match any password) would be rehashed at `params`.
pub fn needs_rehash(params: Argon2Params, stored: &str) -> Result<bool> {
    match HashScheme::of(stored)? {
        HashScheme::Argon2id => needs_argon2_rehash(params, &parse_phc(stored)?),
        _ => Ok(true),
    }
}

fn parse_phc(stored: &str) -> Result<PasswordHash> {
    PasswordHash::new(stored).map_err(|e| Error::InvalidHash(format!("malformed PHC string: {e}")))
}

/// Recomputes an Argon2 hash (any variant, version and parameters it states, within the limits
/// checked before) of `password` and compares it with the stored one in constant time, as the
/// argon2 crate's `PasswordVerifier` does, in this thread's reused memory.
fn verify_argon2(configured: Argon2Params, password: &[u8], hash: &PasswordHash) -> Result<bool> {
    // As `PasswordVerifier`: a PHC string without a salt or hash matches no password.
    let (Some(salt), Some(expected)) = (&hash.salt, &hash.hash) else {
        return Ok(false);
    };
    let unusable = |e: &dyn fmt::Display| Error::InvalidHash(format!("unusable hash: {e}"));
    let algorithm = Algorithm::try_from(hash.algorithm.as_str()).map_err(|e| unusable(&e))?;
    let version = match hash.version {
        Some(version) => Version::try_from(version).map_err(|e| unusable(&e))?,
        None => Version::default(),
    };
    // Includes the stored output length, and `keyid`/`data` when the string has them.
    let params = argon2::Params::try_from(hash).map_err(|e| unusable(&e))?;
    let verifier = Argon2::new(algorithm, version, params.clone());
    let mut computed = Zeroizing::new([0u8; Output::MAX_LENGTH]);
    let computed = computed
        .get_mut(..expected.len())
        .ok_or_else(|| unusable(&"hash output too long"))?;
    argon2_buffer::with_blocks(params.block_count(), configured.block_count()?, |memory| {
        verifier.hash_password_into_with_memory(password, salt, computed, memory)
    })?
    .map_err(|e| unusable(&e))?;
    Ok(expected.as_bytes().ct_eq(computed).into())
}

fn phc_verify(
    verifier: &impl PasswordVerifier<PasswordHash>,
    password: &[u8],
    hash: &PasswordHash,
) -> Result<bool> {
    match verifier.verify_password(password, hash) {
        Ok(()) => Ok(true),
        Err(password_hash::Error::PasswordInvalid) => Ok(false),
        Err(e) => Err(Error::InvalidHash(format!("unusable hash: {e}"))),
    }
}

fn decimal_param(hash: &PasswordHash, name: &str) -> Result<Option<u32>> {
    match hash.params.get(name) {
        None => Ok(None),
        Some(value) => value
            .decimal()
            .map(Some)
            .map_err(|_| Error::InvalidHash(format!("parameter {name} is not a number"))),
    }
}

fn needs_argon2_rehash(params: Argon2Params, hash: &PasswordHash) -> Result<bool> {
    if hash.algorithm.as_str() != "argon2id" || hash.version != Some(0x13) {
        return Ok(true);
    }
    // Compare m, t and p one by one: a parsed `argon2::Params` also carries the output length.
    let stored = (
        decimal_param(hash, "m")?,
        decimal_param(hash, "t")?,
        decimal_param(hash, "p")?,
    );
    let wanted = (
        Some(params.memory_kib),
        Some(params.iterations),
        Some(params.parallelism),
    );
    Ok(stored != wanted)
}

fn check_argon2_limits(params: Argon2Params, hash: &PasswordHash) -> Result<()> {
    let m = decimal_param(hash, "m")?.unwrap_or(0);
    let t = decimal_param(hash, "t")?.unwrap_or(0);
    let p = decimal_param(hash, "p")?.unwrap_or(0);
    let max_m = params
        .memory_kib
        .saturating_mul(STORED_ARGON2_MEMORY_FACTOR)
        .min(MAX_ARGON2_MEMORY_KIB.saturating_mul(STORED_ARGON2_MEMORY_FACTOR));
    if m > max_m || t > MAX_ARGON2_ITERATIONS || p > MAX_ARGON2_PARALLELISM {
        return Err(Error::InvalidHash(
            "argon2 parameters above the accepted limits".into(),
        ));
    }
    Ok(())
}

fn check_pbkdf2_limits(hash: &PasswordHash) -> Result<()> {
    if decimal_param(hash, "i")?.unwrap_or(0) > MAX_PBKDF2_ROUNDS {
        return Err(Error::InvalidHash(
            "pbkdf2 rounds above the accepted limit".into(),
        ));
    }
    Ok(())
}

fn check_scrypt_limits(hash: &PasswordHash) -> Result<()> {
    let log_n = decimal_param(hash, "ln")?.unwrap_or(0);
    let r = decimal_param(hash, "r")?.unwrap_or(0);
    let p = decimal_param(hash, "p")?.unwrap_or(0);
    if log_n > MAX_SCRYPT_LOG_N || r > MAX_SCRYPT_R || p > MAX_SCRYPT_P {
        return Err(Error::InvalidHash(
            "scrypt parameters above the accepted limits".into(),
        ));
    }
    Ok(())
}

fn verify_bcrypt(raw_password: &str, stored: &str) -> Result<bool> {
    let cost: u32 = stored
        .get(4..6)
        .and_then(|cost| cost.parse().ok())
        .ok_or_else(|| Error::InvalidHash("malformed bcrypt hash".into()))?;
    if cost > MAX_BCRYPT_COST {
        return Err(Error::InvalidHash(
            "bcrypt cost above the accepted limit".into(),
        ));
    }
    bcrypt::verify(raw_password, stored)
        .map_err(|e| Error::InvalidHash(format!("malformed bcrypt hash: {e}")))
}

#[cfg(test)]
mod tests;
