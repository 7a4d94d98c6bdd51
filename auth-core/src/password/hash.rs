//! Hashing and verification as plain, synchronous functions.
//!
//! New hashes are always Argon2id PHC strings. Verification also accepts the schemes that
//! services we replace stored (bcrypt `$2a$`/`$2b$`/`$2y$`, PBKDF2-SHA256/512 and scrypt in PHC
//! form, Argon2i/Argon2d) and reports that such a hash must be replaced by an Argon2id hash
//! at the configured parameters on the next successful login.
//!
//! These functions are CPU- and memory-heavy by design. In async code use
//! [`PasswordService`](super::PasswordService), which runs them on a bounded blocking pool.

use argon2::Argon2;
use password_hash::phc::PasswordHash;
use password_hash::{PasswordHasher as _, PasswordVerifier};

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

    fn hasher(self) -> Result<Argon2<'static>> {
        Ok(Argon2::new(
            argon2::Algorithm::Argon2id,
            argon2::Version::V0x13,
            self.to_argon2()?,
        ))
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
pub fn hash_password(params: Argon2Params, password: &NormalizedPassword) -> Result<String> {
    let hash = params
        .hasher()?
        .hash_password(password.as_bytes())
        .map_err(|e| Error::Internal(format!("argon2 hashing failed: {e}")))?;
    Ok(hash.to_string())
}

/// Checks `raw_password` against `stored`, and says whether a match must be rehashed to
/// Argon2id at `params`.
///
/// Argon2 hashes are checked against the NFKC form of the password (the form this crate
/// hashes). Legacy hashes are checked against the password exactly as given, as the system
/// that wrote them did; bcrypt, like every bcrypt implementation, reads only the first 72
/// bytes. A malformed or unknown hash is [`Error::InvalidHash`], never a panic.
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
            let matched = phc_verify(&Argon2::default(), normalized.as_bytes(), &hash)?;
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
    use password_hash::CustomizedPasswordHasher;

    const PASSWORD: &str = "correct horse battery staple";

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
