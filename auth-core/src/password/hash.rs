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

use super::memory;
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

/// Largest Argon2 memory cost accepted, in configuration or in a stored hash: 1 GiB.
pub const MAX_ARGON2_MEMORY_KIB: u32 = 1024 * 1024;
const MAX_ARGON2_PARALLELISM: u32 = 16;
const MAX_ARGON2_ITERATIONS: u32 = 64;
const MAX_BCRYPT_COST: u32 = 18;
const MAX_PBKDF2_ROUNDS: u32 = 10_000_000;
const MAX_SCRYPT_LOG_N: u8 = 20;
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
    memory::with_blocks(blocks, blocks, |memory| {
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
            check_argon2_limits(&hash)?;
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
    memory::with_blocks(params.block_count(), configured.block_count()?, |memory| {
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

fn check_argon2_limits(hash: &PasswordHash) -> Result<()> {
    let m = decimal_param(hash, "m")?.unwrap_or(0);
    let t = decimal_param(hash, "t")?.unwrap_or(0);
    let p = decimal_param(hash, "p")?.unwrap_or(0);
    if m > MAX_ARGON2_MEMORY_KIB || t > MAX_ARGON2_ITERATIONS || p > MAX_ARGON2_PARALLELISM {
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
    if log_n > u32::from(MAX_SCRYPT_LOG_N) || r > 32 || p > 16 {
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
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use password_hash::{CustomizedPasswordHasher, PasswordHasher};

    const PASSWORD: &str = "correct horse battery staple";

    /// Runs a test body on a fresh thread, which starts without an Argon2 buffer and keeps
    /// one between hashes, as the hashing pool's threads do.
    fn on_a_new_thread<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
        std::thread::spawn(|| {
            memory::keep_buffer_on_this_thread();
            f()
        })
        .join()
        .unwrap()
    }

    /// The argon2 crate's own PHC string, with its own memory.
    fn argon2_crate_hash(argon2: &Argon2<'_>, password: &str, salt: &[u8]) -> String {
        argon2
            .hash_password_with_salt(password.as_bytes(), salt)
            .unwrap()
            .to_string()
    }

    fn argon2id(memory_kib: u32, iterations: u32, parallelism: u32) -> Argon2<'static> {
        let params = argon2::Params::new(memory_kib, iterations, parallelism, None).unwrap();
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
    }

    fn hash_default(password: &str) -> String {
        hash_password(Argon2Params::default(), &NormalizedPassword::new(password)).unwrap()
    }

    fn verify_default(password: &str, stored: &str) -> Result<Verification> {
        verify_password(Argon2Params::default(), password, stored)
    }

    /// A legacy hash of `PASSWORD` verifies with `needs_rehash` and refuses another password.
    fn assert_legacy_hash_verifies_and_needs_rehash(stored: &str) {
        assert_eq!(
            verify_default(PASSWORD, stored).unwrap(),
            Verification::Valid { needs_rehash: true },
            "{stored}"
        );
        assert_eq!(
            verify_default("nope", stored).unwrap(),
            Verification::Invalid,
            "{stored}"
        );
    }

    #[test]
    fn new_hashes_are_argon2id_phc_strings_with_the_configured_parameters() {
        let stored = hash_default(PASSWORD);
        assert!(
            stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{stored}"
        );
        let params = Argon2Params::new(19_456 * 2, 3, 2).unwrap();
        let stronger = hash_password(params, &NormalizedPassword::new(PASSWORD)).unwrap();
        assert!(
            stronger.starts_with("$argon2id$v=19$m=38912,t=3,p=2$"),
            "{stronger}"
        );
    }

    #[test]
    fn our_phc_strings_are_byte_identical_to_the_argon2_crates() {
        let salts: [&[u8]; 3] = [b"saltsaltsaltsalt", &[0xa5; 8], &[0x5a; 48]];
        // p = 3 does not divide m: Argon2 rounds the memory down to whole lanes.
        for (m, t, p) in [
            (19_456, 2, 1),
            (38_912, 3, 2),
            (19_457, 2, 3),
            (24_000, 2, 16),
        ] {
            let params = Argon2Params::new(m, t, p).unwrap();
            for salt in salts {
                let ours = hash_with_salt(params, PASSWORD.as_bytes(), salt).unwrap();
                let theirs = argon2_crate_hash(&argon2id(m, t, p), PASSWORD, salt);
                assert_eq!(ours, theirs, "m={m} t={t} p={p}");
                assert!(
                    ours.starts_with(&format!("$argon2id$v=19$m={m},t={t},p={p}$")),
                    "{ours}"
                );
            }
        }
    }

    #[test]
    fn new_hashes_verify_with_the_argon2_crate() {
        for params in [
            Argon2Params::default(),
            Argon2Params::new(19_457, 3, 2).unwrap(),
        ] {
            let stored = hash_password(params, &NormalizedPassword::new(PASSWORD)).unwrap();
            let parsed = PasswordHash::new(&stored).unwrap();
            assert!(
                Argon2::default()
                    .verify_password(PASSWORD.as_bytes(), &parsed)
                    .is_ok()
            );
            assert!(
                Argon2::default()
                    .verify_password(b"correct horse battery stapler", &parsed)
                    .is_err()
            );
        }
    }

    #[test]
    fn hashes_made_by_the_argon2_crate_verify_whatever_their_variant_version_and_costs() {
        let custom = |algorithm, version, m, t, p, output_len| {
            let params = argon2::Params::new(m, t, p, output_len).unwrap();
            Argon2::new(algorithm, version, params)
        };
        let mut with_data = argon2::ParamsBuilder::new();
        with_data
            .m_cost(19_456)
            .data(argon2::AssociatedData::new(b"tenant-7").unwrap());
        let cases = [
            (argon2id(19_456, 2, 1), false),
            (argon2id(19_456, 3, 1), true),
            (argon2id(19_456, 2, 2), true),
            (argon2id(19_459, 2, 3), true),
            (
                custom(Algorithm::Argon2id, Version::V0x10, 19_456, 2, 1, None),
                true,
            ),
            (
                custom(Algorithm::Argon2id, Version::V0x13, 19_456, 2, 1, Some(16)),
                false,
            ),
            (
                custom(Algorithm::Argon2id, Version::V0x13, 19_456, 2, 1, Some(64)),
                false,
            ),
            (
                custom(Algorithm::Argon2d, Version::V0x13, 8_192, 4, 2, None),
                true,
            ),
            (
                custom(Algorithm::Argon2i, Version::V0x10, 8_192, 3, 1, None),
                true,
            ),
            (
                Argon2::new(
                    Algorithm::Argon2id,
                    Version::V0x13,
                    with_data.build().unwrap(),
                ),
                false,
            ),
        ];
        for (argon2, needs_rehash) in cases {
            let stored = argon2_crate_hash(&argon2, PASSWORD, b"saltsaltsaltsalt");
            assert_eq!(
                verify_default(PASSWORD, &stored).unwrap(),
                Verification::Valid { needs_rehash },
                "{stored}"
            );
            assert_eq!(
                verify_default("correct horse battery stapler", &stored).unwrap(),
                Verification::Invalid,
                "{stored}"
            );
        }
    }

    #[test]
    fn a_tampered_hash_does_not_verify() {
        let mut builder = argon2::ParamsBuilder::new();
        builder
            .m_cost(19_456)
            .data(argon2::AssociatedData::new(b"tenant-7").unwrap());
        let argon2 = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            builder.build().unwrap(),
        );
        let stored = argon2_crate_hash(&argon2, PASSWORD, b"saltsaltsaltsalt");
        assert!(verify_default(PASSWORD, &stored).unwrap().is_valid());
        let parsed = PasswordHash::new(&stored).unwrap();
        let salt = parsed.salt.unwrap().to_string();
        let output = parsed.hash.unwrap().to_string();
        let flip_first = |b64: &str| {
            let replacement = if b64.starts_with('A') { "B" } else { "A" };
            format!("{replacement}{}", &b64[1..])
        };
        let tampered = [
            stored.replace(&output, &flip_first(&output)),
            stored.replace(&salt, &flip_first(&salt)),
            stored.replace("$argon2id$", "$argon2d$"),
            stored.replace("$v=19$", "$v=16$"),
            stored.replace("m=19456", "m=19457"),
            stored.replace("t=2", "t=3"),
            stored.replace("p=1", "p=2"),
            stored.replace(",data=dGVuYW50LTc", ",data=dGVuYW50LTg"),
            stored.replace(",data=dGVuYW50LTc", ""),
            // The first 18 bytes of the output only.
            stored.replace(&output, &output[..24]),
        ];
        for tampered in tampered {
            assert_ne!(tampered, stored);
            assert_eq!(
                verify_default(PASSWORD, &tampered).unwrap(),
                Verification::Invalid,
                "{tampered}"
            );
        }
    }

    #[test]
    fn a_thread_keeps_one_buffer_at_the_configured_size_across_hashes() {
        on_a_new_thread(|| {
            let default_blocks = Argon2Params::default().block_count().unwrap();
            assert_eq!(memory::retained_blocks(), 0);
            let stored = hash_default(PASSWORD);
            assert_eq!(memory::retained_blocks(), default_blocks);
            assert!(verify_default(PASSWORD, &stored).unwrap().is_valid());
            assert_eq!(memory::retained_blocks(), default_blocks);
        });
    }

    #[test]
    fn hashes_after_bigger_and_smaller_ones_on_the_same_thread_still_verify() {
        on_a_new_thread(|| {
            let default_blocks = Argon2Params::default().block_count().unwrap();
            let bigger = Argon2Params::new(38_912, 2, 1).unwrap();
            let first = hash_default(PASSWORD);

            // A stored hash above the configured memory: checked, then its memory is freed.
            let big = argon2_crate_hash(&argon2id(38_912, 2, 1), PASSWORD, b"saltsaltsaltsalt");
            assert_eq!(
                verify_default(PASSWORD, &big).unwrap(),
                Verification::Valid { needs_rehash: true }
            );
            assert_eq!(memory::retained_blocks(), 0);
            let second = hash_default(PASSWORD);
            assert_eq!(memory::retained_blocks(), default_blocks);

            // Configured bigger: the buffer grows and stays; a smaller hash runs in it.
            assert_eq!(
                verify_password(bigger, PASSWORD, &big).unwrap(),
                Verification::Valid {
                    needs_rehash: false
                }
            );
            assert_eq!(memory::retained_blocks(), 38_912);
            let small = argon2_crate_hash(&argon2id(8_192, 2, 1), PASSWORD, b"saltsaltsaltsalt");
            assert!(
                verify_password(bigger, PASSWORD, &small)
                    .unwrap()
                    .is_valid()
            );
            assert!(!verify_password(bigger, "nope", &small).unwrap().is_valid());
            assert_eq!(memory::retained_blocks(), 38_912);
            let third = hash_default(PASSWORD);

            for stored in [&first, &second, &third, &big, &small] {
                assert!(
                    verify_default(PASSWORD, stored).unwrap().is_valid(),
                    "{stored}"
                );
                assert!(
                    !verify_default("nope", stored).unwrap().is_valid(),
                    "{stored}"
                );
            }
            assert_eq!(
                hash_with_salt(
                    Argon2Params::default(),
                    PASSWORD.as_bytes(),
                    b"saltsaltsaltsalt"
                )
                .unwrap(),
                argon2_crate_hash(&argon2id(19_456, 2, 1), PASSWORD, b"saltsaltsaltsalt")
            );
        });
    }

    #[test]
    fn the_same_password_hashes_differently_each_time() {
        assert_ne!(hash_default(PASSWORD), hash_default(PASSWORD));
    }

    #[test]
    fn the_right_password_verifies_without_rehash() {
        let stored = hash_default(PASSWORD);
        assert_eq!(
            verify_default(PASSWORD, &stored).unwrap(),
            Verification::Valid {
                needs_rehash: false
            }
        );
    }

    #[test]
    fn a_wrong_password_is_invalid() {
        let stored = hash_default(PASSWORD);
        assert_eq!(
            verify_default("correct horse battery stapler", &stored).unwrap(),
            Verification::Invalid
        );
    }

    #[test]
    fn a_long_password_is_not_truncated() {
        let long: String = (0..100)
            .map(|i| char::from(b'a' + (i % 26) as u8))
            .collect();
        let stored = hash_default(&long);
        assert!(verify_default(&long, &stored).unwrap().is_valid());
        for prefix in [64, 72, 99] {
            assert_eq!(
                verify_default(&long[..prefix], &stored).unwrap(),
                Verification::Invalid,
                "prefix of {prefix}"
            );
        }
    }

    #[test]
    fn emoji_and_spaces_verify_and_equivalent_unicode_forms_match() {
        let stored = hash_default("🔐 my   vault 🔐 ключ");
        assert!(
            verify_default("🔐 my   vault 🔐 ключ", &stored)
                .unwrap()
                .is_valid()
        );
        assert!(
            !verify_default("🔐 my vault 🔐 ключ", &stored)
                .unwrap()
                .is_valid()
        );
        let composed = hash_default("caf\u{e9} cr\u{e8}me br\u{fb}l\u{e9}e");
        assert!(
            verify_default("cafe\u{301} cre\u{300}me bru\u{302}le\u{301}e", &composed)
                .unwrap()
                .is_valid()
        );
        let fullwidth = hash_default("ｈｕｎｔｅｒ２ｈｕｎｔｅｒ２");
        assert!(
            verify_default("hunter2hunter2", &fullwidth)
                .unwrap()
                .is_valid()
        );
    }

    #[test]
    fn other_argon2_parameters_need_a_rehash_each_of_m_t_and_p() {
        let stored = hash_default(PASSWORD);
        for params in [
            Argon2Params::new(19_457, 2, 1).unwrap(),
            Argon2Params::new(19_456, 3, 1).unwrap(),
            Argon2Params::new(19_456, 2, 2).unwrap(),
        ] {
            assert_eq!(
                verify_password(params, PASSWORD, &stored).unwrap(),
                Verification::Valid { needs_rehash: true },
                "{params:?}"
            );
            assert!(needs_rehash(params, &stored).unwrap());
        }
        assert!(!needs_rehash(Argon2Params::default(), &stored).unwrap());
    }

    #[test]
    fn a_hash_with_another_output_length_but_same_costs_needs_no_rehash() {
        let custom = argon2::Params::new(19_456, 2, 1, Some(64)).unwrap();
        let stored = Argon2::default()
            .hash_password_with_params(PASSWORD.as_bytes(), b"saltsaltsaltsalt", custom)
            .unwrap()
            .to_string();
        assert_eq!(
            verify_default(PASSWORD, &stored).unwrap(),
            Verification::Valid {
                needs_rehash: false
            }
        );
    }

    #[test]
    fn argon2i_hashes_verify_and_need_a_rehash() {
        let params = argon2::Params::new(4096, 3, 1, None).unwrap();
        let argon2i = Argon2::new(argon2::Algorithm::Argon2i, argon2::Version::V0x13, params);
        let stored = argon2i
            .hash_password_with_salt(PASSWORD.as_bytes(), b"saltsaltsaltsalt")
            .unwrap()
            .to_string();
        assert_eq!(HashScheme::of(&stored).unwrap(), HashScheme::Argon2i);
        assert_legacy_hash_verifies_and_needs_rehash(&stored);
    }

    #[test]
    fn bcrypt_hashes_as_a_nestjs_service_stores_them_verify_and_need_a_rehash() {
        // bcrypt at cost 12 (BCRYPT_ROUNDS=12), in each of its prefixes.
        let b = bcrypt::hash(PASSWORD, 12).unwrap();
        assert!(b.starts_with("$2b$12$"));
        for prefix in ["$2a$", "$2b$", "$2y$"] {
            let stored = format!("{prefix}{}", &b[4..]);
            assert_eq!(HashScheme::of(&stored).unwrap(), HashScheme::Bcrypt);
            assert_eq!(
                verify_default(PASSWORD, &stored).unwrap(),
                Verification::Valid { needs_rehash: true },
                "{prefix}"
            );
            assert_eq!(
                verify_default("wrong password!", &stored).unwrap(),
                Verification::Invalid
            );
        }
    }

    #[test]
    fn a_known_bcrypt_vector_from_another_implementation_verifies() {
        // From the OpenBSD bcrypt test suite (password "U*U", cost 5).
        let stored = "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW";
        assert!(verify_default("U*U", stored).unwrap().is_valid());
        assert!(!verify_default("U*V", stored).unwrap().is_valid());
    }

    #[test]
    fn pbkdf2_sha256_phc_hashes_verify_and_need_a_rehash() {
        let params = pbkdf2::Params::new(10_000).unwrap();
        let stored = pbkdf2::Pbkdf2::default()
            .hash_password_with_params(PASSWORD.as_bytes(), b"saltsaltsaltsalt", params)
            .unwrap()
            .to_string();
        assert!(stored.starts_with("$pbkdf2-sha256$i=10000"), "{stored}");
        assert_legacy_hash_verifies_and_needs_rehash(&stored);
    }

    #[test]
    fn a_known_pbkdf2_sha256_vector_verifies() {
        // RFC 7914 section 11 / RFC 6070-style vector in PHC form: P="passwordPASSWORDpassword",
        // S="saltSALTsaltSALTsaltSALTsaltSALTsalt", c=4096, dkLen=40.
        let stored = "$pbkdf2-sha256$i=4096,l=40\
            $c2FsdFNBTFRzYWx0U0FMVHNhbHRTQUxUc2FsdFNBTFRzYWx0\
            $NIyJ28vTKy8y2BS4EW6EzysXNH68GAAYHE4qH7jdU+HGNVGMfaxH6Q";
        assert!(
            verify_default("passwordPASSWORDpassword", stored)
                .unwrap()
                .is_valid()
        );
    }

    #[test]
    fn scrypt_phc_hashes_verify_and_need_a_rehash() {
        let params = scrypt::Params::new(10, 8, 1).unwrap();
        let stored = scrypt::Scrypt::default()
            .hash_password_with_params(PASSWORD.as_bytes(), b"saltsaltsaltsalt", params)
            .unwrap()
            .to_string();
        assert!(stored.starts_with("$scrypt$"), "{stored}");
        assert_legacy_hash_verifies_and_needs_rehash(&stored);
    }

    #[test]
    fn unknown_and_malformed_hashes_are_errors_not_panics() {
        let cases = [
            "",
            "plaintext",
            "$",
            "$$$$",
            "$md5$abc",
            "$1$saltsalt$hash",
            "$argon2id$",
            "$argon2id$v=19$m=19456,t=2,p=1$",
            "$argon2id$v=19$m=abc,t=2,p=1$c2FsdHNhbHQ$aGFzaA",
            "$argon2id$v=19$m=19456,t=2,p=1$!!!$aGFzaA",
            "$2b$12$short",
            "$2b$xx$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
            "$2b$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOe£",
            "$pbkdf2-sha256$i=x$c2FsdA$aGFzaA",
            "$scrypt$ln=abc$c2FsdA$aGFzaA",
        ];
        for stored in cases {
            let result = verify_default(PASSWORD, stored);
            assert!(
                matches!(result, Err(Error::InvalidHash(_))),
                "{stored:?} gave {result:?}"
            );
        }
    }

    #[test]
    fn stored_hashes_with_absurd_costs_are_refused_instead_of_run() {
        let cases = [
            "$argon2id$v=19$m=4194304,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaA",
            "$2b$31$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
            "$pbkdf2-sha256$i=4000000000,l=32$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
            "$scrypt$ln=30,r=8,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
        ];
        for stored in cases {
            assert!(
                matches!(verify_default(PASSWORD, stored), Err(Error::InvalidHash(_))),
                "{stored}"
            );
        }
        let huge = format!("$argon2id${}", "a".repeat(10_000));
        assert!(matches!(
            verify_default(PASSWORD, &huge),
            Err(Error::InvalidHash(_))
        ));
    }

    #[test]
    fn an_argon2_hash_just_above_the_memory_limit_is_refused() {
        let too_big = format!(
            "$argon2id$v=19$m={},t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaA",
            MAX_ARGON2_MEMORY_KIB + 1
        );
        let refused = verify_default(PASSWORD, &too_big);
        assert!(matches!(refused, Err(Error::InvalidHash(_))), "{refused:?}");
    }

    #[test]
    fn parameters_below_owasp_minimums_are_refused() {
        assert!(Argon2Params::new(19_455, 2, 1).is_err());
        assert!(Argon2Params::new(19_456, 1, 1).is_err());
        assert!(Argon2Params::new(19_456, 2, 0).is_err());
        assert!(Argon2Params::new(MAX_ARGON2_MEMORY_KIB + 1, 2, 1).is_err());
        assert_eq!(
            Argon2Params::new(19_456, 2, 1).unwrap(),
            Argon2Params::default()
        );
    }
}
