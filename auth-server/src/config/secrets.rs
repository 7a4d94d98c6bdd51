//! Secrets judged by their content, not only their length: production refuses a secret that
//! is one byte repeated, a short pattern repeated, a run like `abcdef…` or `000102…`, a
//! placeholder (`change-me`, `example`…) or too little variety to hold 80 bits.
//!
//! This catches mistakes (a value typed by hand, a template left as is), not every weak
//! secret: a sentence of ordinary words can pass. Generate secrets with `openssl rand`.

use std::collections::HashMap;

/// The least entropy, in bits, a secret's byte frequencies must allow. Sixteen random bytes
/// written as 32 hex digits estimate at about 90 bits or more, so a generated secret passes.
const MIN_ESTIMATED_BITS: f64 = 80.0;

/// Words that mark a value copied from a template rather than generated.
const PLACEHOLDERS: [&str; 9] = [
    "change",
    "example",
    "secret",
    "password",
    "default",
    "sample",
    "placeholder",
    "dummy",
    "replace",
];

/// Why `secret` is too weak to use, or `None`.
pub(super) fn weakness(secret: &[u8]) -> Option<String> {
    let len = secret.len();
    if len == 0 {
        return Some("it is empty".to_owned());
    }
    if secret.iter().all(|&b| b == secret[0]) {
        return Some("it is one byte repeated".to_owned());
    }
    if let Some(period) = (1..=len / 2).find(|&p| (p..len).all(|i| secret[i] == secret[i - p])) {
        return Some(format!("it repeats a {period}-byte pattern"));
    }
    let steps = secret
        .windows(3)
        .filter(|w| w[1].wrapping_sub(w[0]) == w[2].wrapping_sub(w[1]));
    if len >= 3 && steps.count() * 2 >= len - 2 {
        return Some("it is mostly a sequence (like abcdef or 000102)".to_owned());
    }
    let lower = String::from_utf8_lossy(secret).to_ascii_lowercase();
    if let Some(word) = PLACEHOLDERS.iter().find(|word| lower.contains(*word)) {
        return Some(format!("it contains the placeholder word {word:?}"));
    }
    let bits = estimated_bits(secret);
    if bits < MIN_ESTIMATED_BITS {
        return Some(format!(
            "its characters vary too little (about {bits:.0} bits, at least {MIN_ESTIMATED_BITS:.0} needed)"
        ));
    }
    None
}

/// The length times the Shannon entropy of the byte frequencies: an upper bound on what the
/// secret can hold if its bytes were drawn independently.
fn estimated_bits(secret: &[u8]) -> f64 {
    let mut counts: HashMap<u8, usize> = HashMap::new();
    for &byte in secret {
        *counts.entry(byte).or_default() += 1;
    }
    let len = secret.len() as f64;
    let per_byte: f64 = counts
        .values()
        .map(|&count| {
            let p = count as f64 / len;
            -p * p.log2()
        })
        .sum();
    per_byte * len
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_secrets_pass() {
        for secret in [
            // openssl rand -base64 32
            "q1Pk3m2Zr9xVbT0yN5cWd8HfJ4sLgE7uA6oRiY2tKwM=",
            // openssl rand -hex 16
            "9f3c1a7e5b2d40c8e6a1f9b3d7c5e2a0",
            "9c4e1b7f03a2d8e5f6b1c9a7d2e40f38b6a5c1d9e7f2a3b4c8d0e6f1a9b7c5d3",
        ] {
            assert_eq!(weakness(secret.as_bytes()), None, "{secret}");
        }
    }

    /// Thousands of secrets made the way the docs say (`openssl rand -hex 32`, `-hex 16`,
    /// `-base64 32`): none is refused. Random bytes come from UUIDs' random bits.
    #[test]
    fn no_generated_secret_is_refused() {
        let random_bytes = |n: usize| -> Vec<u8> {
            let mut bytes = Vec::with_capacity(n + 16);
            while bytes.len() < n {
                // Version 4 UUIDs fix 6 bits; skip the two bytes that hold them.
                let uuid = uuid::Uuid::new_v4().into_bytes();
                bytes.extend(
                    uuid.iter()
                        .enumerate()
                        .filter(|(i, _)| ![6, 8].contains(i))
                        .map(|(_, b)| *b),
                );
            }
            bytes.truncate(n);
            bytes
        };
        let hex = |bytes: &[u8]| bytes.iter().map(|b| format!("{b:02x}")).collect::<String>();
        for _ in 0..2000 {
            for secret in [hex(&random_bytes(32)), hex(&random_bytes(16))] {
                assert_eq!(weakness(secret.as_bytes()), None, "{secret}");
            }
            let raw = random_bytes(32);
            assert_eq!(weakness(&raw), None, "{raw:?}");
            let base64 = base64_of(&random_bytes(32));
            assert_eq!(weakness(base64.as_bytes()), None, "{base64}");
        }
    }

    fn base64_of(bytes: &[u8]) -> String {
        const ALPHABET: &[u8; 64] =
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        bytes
            .chunks(3)
            .flat_map(|chunk| {
                let n = chunk.iter().fold(0u32, |n, b| (n << 8) | u32::from(*b))
                    << (8 * (3 - chunk.len()));
                (0..=chunk.len()).map(move |i| ALPHABET[(n >> (18 - 6 * i)) as usize & 63] as char)
            })
            .collect()
    }

    #[test]
    fn repeated_sequential_placeholder_and_uniform_secrets_are_weak() {
        let cases: [(&[u8], &str); 7] = [
            (&[b'a'; 40], "one byte repeated"),
            (&[0; 32], "one byte repeated"),
            (b"abcdabcdabcdabcdabcdabcdabcdabcdabcd", "4-byte pattern"),
            (b"abcdefghijklmnopqrstuvwxyz0123456789", "sequence"),
            (
                &[
                    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21,
                    22, 23, 24, 25, 26, 27, 28, 29, 30, 31,
                ],
                "sequence",
            ),
            (b"my-super-secret-jwt-key-change-me", "placeholder"),
            (b"01101001100101101001011001101001", "vary too little"),
        ];
        for (secret, why) in cases {
            let found = weakness(secret).unwrap_or_default();
            assert!(found.contains(why), "{secret:?}: {found:?}");
        }
    }
}
