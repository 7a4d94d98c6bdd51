//! Breached-password checks (ASVS 2.1.7): is a new password known to attackers?
//!
//! [`BreachedPasswordCheck`] is the seam; two implementations ship here:
//! - [`BreachList`]: a local list, loaded from a file of passwords (one per line) or of SHA-1
//!   hashes (40 hex digits, optionally followed by `:COUNT` as in the Pwned Passwords
//!   downloads).
//! - [`PwnedRangeCheck`]: the k-anonymity range protocol of Have I Been Pwned: only the
//!   first five hex digits of the password's SHA-1 leave the process. The transport is a
//!   [`RangeSource`]; `auth-tower` provides one over HTTPS (auth-core itself makes no HTTP
//!   requests).
//!
//! What happens when a check cannot be made is decided by the caller's policy
//! ([`BreachCheckFailure`](super::BreachCheckFailure)), not by the check.

use std::collections::HashSet;
use std::fmt;
use std::io::BufRead;
use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use sha1::{Digest, Sha1};

use super::policy::NormalizedPassword;
use crate::error::{Error, Result};

/// Tells whether a password appears in a corpus of breached passwords.
#[async_trait]
pub trait BreachedPasswordCheck: Send + Sync + fmt::Debug {
    /// `Ok(true)` when the password is known to be breached. An `Err` means the check could
    /// not be made (for example [`Error::Unavailable`] when a remote service did not answer).
    async fn is_breached(&self, password: &NormalizedPassword) -> Result<bool>;
}

type Sha1Digest = [u8; 20];

fn sha1_of(bytes: &[u8]) -> Sha1Digest {
    Sha1::digest(bytes).into()
}

/// A local list of breached passwords, held as SHA-1 digests.
#[derive(Clone, Default)]
pub struct BreachList {
    digests: HashSet<Sha1Digest>,
}

impl BreachList {
    /// Reads a list, one entry per line. A line of exactly 40 hex digits (optionally followed
    /// by `:COUNT`) is a SHA-1 digest of a password; any other non-empty line is a password,
    /// taken as is (only the line ending is removed) and NFKC-normalised.
    pub fn from_reader(reader: impl BufRead) -> Result<Self> {
        let mut list = Self::default();
        for line in reader.lines() {
            let line = line.map_err(|e| Error::Config(format!("breached password list: {e}")))?;
            list.insert_line(line.trim_end_matches('\r'));
        }
        Ok(list)
    }

    /// Reads a list from a file; see [`BreachList::from_reader`] for the format.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let file = std::fs::File::open(path).map_err(|e| {
            Error::Config(format!("breached password list {}: {e}", path.display()))
        })?;
        Self::from_reader(std::io::BufReader::new(file))
    }

    /// A list of the given passwords.
    pub fn from_passwords<'a>(passwords: impl IntoIterator<Item = &'a str>) -> Self {
        let digests = passwords
            .into_iter()
            .map(|p| sha1_of(NormalizedPassword::new(p).as_bytes()))
            .collect();
        Self { digests }
    }

    /// The number of distinct entries.
    pub fn len(&self) -> usize {
        self.digests.len()
    }

    /// Whether the list has no entries.
    pub fn is_empty(&self) -> bool {
        self.digests.is_empty()
    }

    /// Whether the list holds `password`.
    pub fn contains(&self, password: &NormalizedPassword) -> bool {
        self.digests.contains(&sha1_of(password.as_bytes()))
    }

    fn insert_line(&mut self, line: &str) {
        if line.is_empty() {
            return;
        }
        let candidate = line.split_once(':').map_or(line, |(hash, _count)| hash);
        if let Some(digest) = parse_hex_digest(candidate) {
            self.digests.insert(digest);
        } else {
            self.digests
                .insert(sha1_of(NormalizedPassword::new(line).as_bytes()));
        }
    }
}

fn parse_hex_digest(text: &str) -> Option<Sha1Digest> {
    if text.len() != 40 {
        return None;
    }
    let mut digest = [0u8; 20];
    for (byte, pair) in digest.iter_mut().zip(text.as_bytes().chunks_exact(2)) {
        let pair = std::str::from_utf8(pair).ok()?;
        *byte = u8::from_str_radix(pair, 16).ok()?;
    }
    Some(digest)
}

impl fmt::Debug for BreachList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BreachList")
            .field("entries", &self.digests.len())
            .finish()
    }
}

#[async_trait]
impl BreachedPasswordCheck for BreachList {
    async fn is_breached(&self, password: &NormalizedPassword) -> Result<bool> {
        Ok(self.contains(password))
    }
}

/// Several checks as one: a password is breached when any check says so. A check that fails
/// does not stop the others: when none finds the password and one failed, the answer is that
/// failure, for the caller's policy to decide.
#[derive(Debug, Default, Clone)]
pub struct BreachChecks {
    checks: Vec<Arc<dyn BreachedPasswordCheck>>,
}

impl BreachChecks {
    /// No checks yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `check`, asked after the ones added before.
    pub fn with(mut self, check: Arc<dyn BreachedPasswordCheck>) -> Self {
        self.checks.push(check);
        self
    }

    /// The number of checks.
    pub fn len(&self) -> usize {
        self.checks.len()
    }

    /// Whether there are no checks.
    pub fn is_empty(&self) -> bool {
        self.checks.is_empty()
    }
}

#[async_trait]
impl BreachedPasswordCheck for BreachChecks {
    async fn is_breached(&self, password: &NormalizedPassword) -> Result<bool> {
        let mut failure = None;
        for check in &self.checks {
            match check.is_breached(password).await {
                Ok(true) => return Ok(true),
                Ok(false) => {}
                Err(error) => failure = Some(error),
            }
        }
        failure.map_or(Ok(false), Err)
    }
}

/// Fetches one range of the k-anonymity API: the body of `GET {base}/range/{prefix}`, lines
/// of `SUFFIX:COUNT` where `SUFFIX` is the remaining 35 hex digits of a SHA-1.
#[async_trait]
pub trait RangeSource: Send + Sync + fmt::Debug {
    /// The range for `prefix`, five upper-case hex digits.
    async fn fetch_range(&self, prefix: &str) -> Result<String>;
}

/// The Have I Been Pwned k-anonymity check over any [`RangeSource`].
///
/// Responses padded with zero-count entries (the `Add-Padding` option) are understood.
#[derive(Debug, Clone)]
pub struct PwnedRangeCheck<S> {
    source: S,
    min_count: u64,
}

impl<S: RangeSource> PwnedRangeCheck<S> {
    /// A check that refuses any password seen at least once.
    pub fn new(source: S) -> Self {
        Self {
            source,
            min_count: 1,
        }
    }

    /// Refuses only passwords seen at least `min_count` times (at least 1).
    pub fn with_min_count(mut self, min_count: u64) -> Self {
        self.min_count = min_count.max(1);
        self
    }

    /// How many times the range says the password was seen (0 when absent).
    pub async fn breach_count(&self, password: &NormalizedPassword) -> Result<u64> {
        let hex = sha1_hex_upper(password.as_bytes());
        let (prefix, suffix) = hex.split_at(5);
        let body = self.source.fetch_range(prefix).await?;
        count_in_range(&body, suffix)
    }
}

#[async_trait]
impl<S: RangeSource> BreachedPasswordCheck for PwnedRangeCheck<S> {
    async fn is_breached(&self, password: &NormalizedPassword) -> Result<bool> {
        Ok(self.breach_count(password).await? >= self.min_count)
    }
}

fn sha1_hex_upper(bytes: &[u8]) -> String {
    use std::fmt::Write;
    sha1_of(bytes)
        .iter()
        .fold(String::with_capacity(40), |mut hex, byte| {
            let _ = write!(hex, "{byte:02X}");
            hex
        })
}

/// Finds `suffix` in a range body. A line that is not `SUFFIX:COUNT` makes the whole body
/// untrustworthy (an error page, a proxy's answer), which is an error rather than "absent".
fn count_in_range(body: &str, suffix: &str) -> Result<u64> {
    let mut found = 0;
    for line in body.lines() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let malformed = || Error::Unavailable("malformed breached-password range response".into());
        let (line_suffix, count) = line.split_once(':').ok_or_else(malformed)?;
        let count: u64 = count.trim().parse().map_err(|_| malformed())?;
        if line_suffix.len() != 35 || !line_suffix.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(malformed());
        }
        if line_suffix.eq_ignore_ascii_case(suffix) {
            found = count;
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::sync::Mutex;

    use super::*;

    fn normalized(p: &str) -> NormalizedPassword {
        NormalizedPassword::new(p)
    }

    #[test]
    fn sha1_hex_matches_the_known_digest_of_password() {
        assert_eq!(
            sha1_hex_upper(b"password"),
            "5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD8"
        );
    }

    #[tokio::test]
    async fn a_list_of_plain_passwords_finds_its_entries_only() {
        let list =
            BreachList::from_reader("password123456\nletmein-please\r\n\n".as_bytes()).unwrap();
        assert_eq!(list.len(), 2);
        assert!(
            list.is_breached(&normalized("password123456"))
                .await
                .unwrap()
        );
        assert!(
            list.is_breached(&normalized("letmein-please"))
                .await
                .unwrap()
        );
        assert!(
            !list
                .is_breached(&normalized("Password123456"))
                .await
                .unwrap()
        );
    }

    #[tokio::test]
    async fn a_list_of_sha1_digests_with_and_without_counts_is_understood() {
        let text = "5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD8:3861493\n\
                    7c4a8d09ca3762af61e59520943dc26494f8941b\n";
        let list = BreachList::from_reader(text.as_bytes()).unwrap();
        assert!(list.is_breached(&normalized("password")).await.unwrap());
        assert!(list.is_breached(&normalized("123456")).await.unwrap());
        assert!(!list.is_breached(&normalized("1234567")).await.unwrap());
    }

    #[tokio::test]
    async fn list_entries_and_candidates_are_compared_in_nfkc_form() {
        let list = BreachList::from_passwords(["ｐａｓｓｗｏｒｄ１２３"]);
        assert!(list.is_breached(&normalized("password123")).await.unwrap());
    }

    #[test]
    fn a_list_file_loads_and_a_missing_file_is_a_config_error() {
        let dir = std::env::temp_dir().join(format!("auth-core-breach-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("list.txt");
        std::fs::write(&path, "qwertyuiop123\n").unwrap();
        assert_eq!(BreachList::from_file(&path).unwrap().len(), 1);
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(matches!(
            BreachList::from_file(dir.join("missing.txt")),
            Err(Error::Config(_))
        ));
    }

    #[derive(Debug, Default)]
    struct FixedRange {
        body: String,
        asked: Mutex<Vec<String>>,
    }

    #[async_trait]
    impl RangeSource for FixedRange {
        async fn fetch_range(&self, prefix: &str) -> Result<String> {
            self.asked.lock().unwrap().push(prefix.to_owned());
            Ok(self.body.clone())
        }
    }

    #[tokio::test]
    async fn the_range_check_sends_only_the_five_character_prefix() {
        let source = FixedRange {
            body: "1E4C9B93F3F0682250B6CF8331B7EE68FD8:3861493\r\n".into(),
            ..Default::default()
        };
        let check = PwnedRangeCheck::new(source);
        assert!(check.is_breached(&normalized("password")).await.unwrap());
        assert_eq!(
            *check.source.asked.lock().unwrap(),
            vec!["5BAA6".to_owned()]
        );
    }

    #[tokio::test]
    async fn padding_entries_with_zero_count_are_not_breaches() {
        let source = FixedRange {
            body: "1E4C9B93F3F0682250B6CF8331B7EE68FD8:0\n\
                   0018A45C4D1DEF81644B54AB7F969B88D65:1\n"
                .into(),
            ..Default::default()
        };
        let check = PwnedRangeCheck::new(source);
        assert_eq!(
            check.breach_count(&normalized("password")).await.unwrap(),
            0
        );
        assert!(!check.is_breached(&normalized("password")).await.unwrap());
    }

    #[tokio::test]
    async fn the_minimum_count_is_configurable() {
        let source = FixedRange {
            body: "1e4c9b93f3f0682250b6cf8331b7ee68fd8:5\n".into(),
            ..Default::default()
        };
        let check = PwnedRangeCheck::new(source).with_min_count(10);
        assert_eq!(
            check.breach_count(&normalized("password")).await.unwrap(),
            5
        );
        assert!(!check.is_breached(&normalized("password")).await.unwrap());
    }

    #[tokio::test]
    async fn several_checks_answer_breached_when_any_does_and_fail_only_when_none_does() {
        #[derive(Debug)]
        struct Broken;
        #[async_trait]
        impl BreachedPasswordCheck for Broken {
            async fn is_breached(&self, _: &NormalizedPassword) -> Result<bool> {
                Err(Error::Unavailable("down".into()))
            }
        }
        let checks = BreachChecks::new()
            .with(Arc::new(Broken))
            .with(Arc::new(BreachList::from_passwords(["listed password"])));
        assert_eq!(checks.len(), 2);
        assert!(
            checks
                .is_breached(&normalized("listed password"))
                .await
                .unwrap()
        );
        assert!(matches!(
            checks.is_breached(&normalized("unlisted password")).await,
            Err(Error::Unavailable(_))
        ));
        assert!(
            !BreachChecks::new()
                .is_breached(&normalized("x"))
                .await
                .unwrap()
        );
    }

    #[tokio::test]
    async fn a_body_that_is_not_a_range_is_an_unavailable_error() {
        for body in [
            "<html>rate limited</html>",
            "ABC:1",
            "1E4C9B93F3F0682250B6CF8331B7EE68FD8:many",
        ] {
            let check = PwnedRangeCheck::new(FixedRange {
                body: body.into(),
                ..Default::default()
            });
            assert!(
                matches!(
                    check.is_breached(&normalized("password")).await,
                    Err(Error::Unavailable(_))
                ),
                "{body}"
            );
        }
    }
}
