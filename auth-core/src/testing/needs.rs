//! What a test needs beyond the toolchain (a service, a program), checked in one place so that
//! a test never passes by not running.
//!
//! A test calls [`require`] (or [`postgres_url`], [`redis_url`]) before it uses the thing:
//! - available: it runs;
//! - missing: it fails, saying what is missing and how to provide it, unless
//!   `AUTH_TEST_ALLOW_MISSING` names the need (comma-separated, or `all`); then it returns
//!   without running. `scripts/test` leaves such tests out of the run before it starts and
//!   reports them as skipped, never as passed.
//!
//! `scripts/test` finds the tests of each need in [`NEEDS`] (the file `needs.txt` beside this
//! one). Under nextest, which runs every test in a process of its own, [`require`] checks that
//! the calling test is listed there for the need, so the list cannot fall behind the tests.
//!
//! The services default to the ones CI and the README's set-up start on this machine:
//! `AUTH_TEST_DATABASE_URL` (`postgres://postgres@127.0.0.1:5432/test`) and
//! `AUTH_TEST_REDIS_URL` (`redis://127.0.0.1:6379`).

use std::collections::HashMap;
use std::net::{TcpStream, ToSocketAddrs};
use std::process::{Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

/// Which tests need what, one rule a line: `NEED binary NAME` (every test of that test
/// binary) or `NEED test PREFIX` (every test whose path starts with it).
pub const NEEDS: &str = include_str!("needs.txt");

/// `AUTH_TEST_DATABASE_URL` when it is unset.
pub const DEFAULT_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/test";
/// `AUTH_TEST_REDIS_URL` when it is unset.
pub const DEFAULT_REDIS_URL: &str = "redis://127.0.0.1:6379";

/// Something a test needs that the toolchain does not bring.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Need {
    /// A PostgreSQL server at `AUTH_TEST_DATABASE_URL`.
    Postgres,
    /// A Redis server at `AUTH_TEST_REDIS_URL`.
    Redis,
    /// `redis-server` and `redis-cli` on the `PATH`, for [`private`](super::private) instances
    /// and the [`topologies`](super::topologies).
    RedisServer,
    /// PostgreSQL's programs under `/usr/lib/postgresql`, for private instances.
    PostgresServer,
    /// `openssl` on the `PATH`, for the test certificate authority.
    Openssl,
    /// `python3` with the `cryptography` package, the independent JOSE check.
    PythonCryptography,
    /// `python3` with the `aiosmtpd` package, the SMTP server mail tests read from.
    PythonAiosmtpd,
    /// A Chromium-family browser (`AUTH_TEST_CHROMIUM`, else `chromium` on the `PATH`) and
    /// `chromedriver` on the `PATH`: the real browser the hosted pages are tested in.
    Chromium,
    /// `python3` with `authlib` and `requests`: a relying party written by others.
    PythonAuthlib,
    /// `node` with `openid-client` installed beside the server's test script that uses it
    /// (`auth-server/tests/support/openid-client`): another relying party written by others.
    NodeOpenidClient,
}

impl Need {
    /// Every need, in the order `scripts/test` reports them.
    pub const ALL: [Need; 10] = [
        Need::Postgres,
        Need::Redis,
        Need::RedisServer,
        Need::PostgresServer,
        Need::Openssl,
        Need::PythonCryptography,
        Need::PythonAiosmtpd,
        Need::Chromium,
        Need::PythonAuthlib,
        Need::NodeOpenidClient,
    ];

    /// The name `needs.txt` and `AUTH_TEST_ALLOW_MISSING` use.
    pub fn name(self) -> &'static str {
        match self {
            Need::Postgres => "postgres",
            Need::Redis => "redis",
            Need::RedisServer => "redis-server",
            Need::PostgresServer => "postgres-server",
            Need::Openssl => "openssl",
            Need::PythonCryptography => "python-cryptography",
            Need::PythonAiosmtpd => "python-aiosmtpd",
            Need::Chromium => "chromium",
            Need::PythonAuthlib => "python-authlib",
            Need::NodeOpenidClient => "node-openid-client",
        }
    }

    /// How to provide it, for the failure message.
    fn remedy(self) -> &'static str {
        match self {
            Need::Postgres => {
                "start PostgreSQL (README.md, \"Testing\") or point AUTH_TEST_DATABASE_URL at one"
            }
            Need::Redis => {
                "start Redis (README.md, \"Testing\") or point AUTH_TEST_REDIS_URL at one"
            }
            Need::RedisServer => "install redis-server (Debian: redis-server)",
            Need::PostgresServer => "install PostgreSQL's server (Debian: postgresql)",
            Need::Openssl => "install openssl",
            Need::PythonCryptography => "python3 -m pip install cryptography",
            Need::PythonAiosmtpd => "python3 -m pip install aiosmtpd",
            Need::Chromium => "install chromium and chromium-driver (Debian's packages)",
            Need::PythonAuthlib => "python3 -m pip install authlib requests",
            Need::NodeOpenidClient => {
                "install node and npm, then `npm ci` in auth-server/tests/support/openid-client"
            }
        }
    }

    /// Why it is missing, or `None` when it is there. Checked once per process.
    fn missing(self) -> Option<String> {
        static CHECKED: OnceLock<Mutex<HashMap<Need, Option<String>>>> = OnceLock::new();
        let checked = CHECKED.get_or_init(Mutex::default);
        let mut checked = checked
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        checked.entry(self).or_insert_with(|| self.check()).clone()
    }

    fn check(self) -> Option<String> {
        match self {
            Need::Postgres => reachable(&database_url()),
            Need::Redis => reachable(&redis_url_setting()),
            Need::RedisServer => on_path("redis-server").or_else(|| on_path("redis-cli")),
            Need::Openssl => on_path("openssl"),
            Need::PostgresServer => {
                let found = std::fs::read_dir("/usr/lib/postgresql")
                    .map(|versions| {
                        versions
                            .flatten()
                            .any(|version| version.path().join("bin/initdb").exists())
                    })
                    .unwrap_or(false);
                (!found).then(|| "no bin/initdb under /usr/lib/postgresql".to_owned())
            }
            Need::PythonCryptography => python_module("cryptography"),
            Need::PythonAiosmtpd => python_module("aiosmtpd"),
            Need::PythonAuthlib => python_module("authlib").or_else(|| python_module("requests")),
            Need::NodeOpenidClient => node_openid_client(),
            Need::Chromium => match std::env::var_os("AUTH_TEST_CHROMIUM") {
                Some(browser) if !std::path::Path::new(&browser).is_file() => Some(format!(
                    "AUTH_TEST_CHROMIUM names {}, which is not a file",
                    browser.to_string_lossy()
                )),
                Some(_) => on_path("chromedriver"),
                None => on_path("chromium").or_else(|| on_path("chromedriver")),
            },
        }
    }
}

/// Whether `python3` can import `module`.
fn python_module(module: &str) -> Option<String> {
    let ran = Command::new("python3")
        .args(["-c", &format!("import {module}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    match ran {
        Ok(status) if status.success() => None,
        Ok(_) => Some(format!("python3 cannot import {module}")),
        Err(error) => Some(format!("python3: {error}")),
    }
}

/// The directory of the openid-client relying party.
pub const OPENID_CLIENT_DIR: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../auth-server/tests/support/openid-client"
);

fn node_openid_client() -> Option<String> {
    let ran = Command::new("node")
        .args(["--input-type=module", "-e", "await import('openid-client')"])
        .current_dir(OPENID_CLIENT_DIR)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    match ran {
        Ok(status) if status.success() => None,
        Ok(_) => Some(format!(
            "node cannot import openid-client in {OPENID_CLIENT_DIR}"
        )),
        Err(error) => Some(format!("node: {error}")),
    }
}

fn database_url() -> String {
    setting("AUTH_TEST_DATABASE_URL").unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned())
}

fn redis_url_setting() -> String {
    setting("AUTH_TEST_REDIS_URL").unwrap_or_else(|| DEFAULT_REDIS_URL.to_owned())
}

fn setting(variable: &str) -> Option<String> {
    std::env::var(variable)
        .ok()
        .map(|value| value.trim().to_owned())
        .filter(|value| !value.is_empty())
}

/// Whether a TCP connection to the URL's host and port opens within 2 s.
fn reachable(url: &str) -> Option<String> {
    let Some(address) = host_and_port(url) else {
        return Some(format!("cannot find a host and port in {url:?}"));
    };
    let addresses = match address.to_socket_addrs() {
        Ok(addresses) => addresses.collect::<Vec<_>>(),
        Err(error) => return Some(format!("{address}: {error}")),
    };
    let mut last = format!("{address}: no address");
    for socket in addresses {
        match TcpStream::connect_timeout(&socket, Duration::from_secs(2)) {
            Ok(_) => return None,
            Err(error) => last = format!("{address}: {error}"),
        }
    }
    Some(last)
}

/// `host:port` of a `scheme://[user[:password]@]host[:port][/...]` URL, the port defaulting
/// by scheme; `None` for a key-value connection string or a socket path.
fn host_and_port(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?']).next()?;
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if host_port.is_empty() {
        return None;
    }
    let has_port = host_port
        .rsplit_once(':')
        .is_some_and(|(_, port)| !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()))
        && !host_port.ends_with(']');
    if has_port {
        return Some(host_port.to_owned());
    }
    let port = if scheme.starts_with("postgres") {
        5432
    } else {
        6379
    };
    Some(format!("{host_port}:{port}"))
}

fn on_path(program: &str) -> Option<String> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let found = std::env::split_paths(&path).any(|dir| dir.join(program).is_file());
    (!found).then(|| format!("{program} is not on the PATH"))
}

/// Whether the allow list (`AUTH_TEST_ALLOW_MISSING`) lets `need` be missing.
fn allowed_missing(need: Need, allow: Option<&str>) -> bool {
    allow.is_some_and(|list| {
        list.split(',')
            .map(str::trim)
            .any(|entry| entry == "all" || entry == need.name())
    })
}

/// What a test does about `need`, missing for `why` (or there): go on (`Ok(true)`), return
/// without running (`Ok(false)`, the allow list lets it be missing), or fail with the message.
fn verdict(need: Need, why: Option<&str>, allow: Option<&str>) -> Result<bool, String> {
    let Some(why) = why else {
        return Ok(true);
    };
    if allowed_missing(need, allow) {
        return Ok(false);
    }
    Err(format!(
        "this test needs {} and it is missing: {why}. To provide it: {}. To leave such tests \
         out instead, run scripts/test with AUTH_TEST_ALLOW_MISSING={}; they are then reported \
         as skipped",
        need.name(),
        need.remedy(),
        need.name()
    ))
}

/// The calling test, as nextest runs it: its binary's name and its path (`--exact PATH`).
/// `None` outside nextest, where one process runs many tests.
fn current_test() -> Option<(String, String)> {
    std::env::var_os("NEXTEST")?;
    let args: Vec<String> = std::env::args().collect();
    let name = args
        .iter()
        .position(|arg| arg == "--exact")
        .and_then(|i| args.get(i + 1))?
        .clone();
    let exe = std::env::current_exe().ok()?;
    let stem = exe.file_stem()?.to_str()?;
    // Cargo names test binaries NAME-HASH.
    let binary = stem
        .rsplit_once('-')
        .map_or(stem, |(name, _)| name)
        .to_owned();
    Some((binary, name))
}

/// Whether [`NEEDS`] lists the test `name` of `binary` for `need`.
fn listed(need: Need, binary: &str, name: &str) -> bool {
    rules().any(|(rule_need, kind, pattern)| {
        rule_need == need.name()
            && match kind {
                "binary" => pattern == binary,
                "test" => name.starts_with(pattern),
                _ => false,
            }
    })
}

/// The rules of [`NEEDS`]: `(need, kind, pattern)`.
pub fn rules() -> impl Iterator<Item = (&'static str, &'static str, &'static str)> {
    NEEDS
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            Some((words.next()?, words.next()?, words.next()?))
        })
}

/// Whether the calling test may go on with `need`: `true` when it is there; `false` (having
/// said so) when it is missing and `AUTH_TEST_ALLOW_MISSING` allows that, so the test returns
/// without running. Panics when it is missing otherwise, and when the test is not listed for
/// it in [`NEEDS`].
pub fn require(need: Need) -> bool {
    if let Some((binary, name)) = current_test() {
        assert!(
            listed(need, &binary, &name),
            "{name} (test binary {binary}) needs {need}, but auth-core/src/testing/needs.txt does \
             not list it: add `{need} test {name}` (or its module, or `{need} binary {binary}`), \
             so scripts/test can leave it out where {need} is missing",
            need = need.name(),
        );
    }
    let why = need.missing();
    match verdict(
        need,
        why.as_deref(),
        setting("AUTH_TEST_ALLOW_MISSING").as_deref(),
    ) {
        Ok(true) => true,
        Ok(false) => {
            eprintln!(
                "SKIPPED: {} is missing ({}) and AUTH_TEST_ALLOW_MISSING allows it; this test \
                 did not run",
                need.name(),
                why.unwrap_or_default()
            );
            false
        }
        Err(message) => panic!("{message}"),
    }
}

/// The test database's URL (`AUTH_TEST_DATABASE_URL`, or the local default) once
/// [`require`]`(Need::Postgres)` lets the test go on.
pub fn postgres_url() -> Option<String> {
    require(Need::Postgres).then(database_url)
}

/// The test Redis's URL (`AUTH_TEST_REDIS_URL`, or the local default) once
/// [`require`]`(Need::Redis)` lets the test go on.
pub fn redis_url() -> Option<String> {
    require(Need::Redis).then(redis_url_setting)
}

/// Whether every one of `needs` is there (see [`require`]); stops at the first that is not.
pub fn require_all(needs: &[Need]) -> bool {
    needs.iter().all(|need| require(*need))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_and_port_come_from_urls_with_the_scheme_default() {
        for (url, expected) in [
            (
                "postgres://postgres@127.0.0.1:5432/test",
                Some("127.0.0.1:5432"),
            ),
            ("postgres://u:p@db/auth?sslmode=require", Some("db:5432")),
            ("redis://127.0.0.1:6379", Some("127.0.0.1:6379")),
            ("redis://:secret@[::1]:6380/0", Some("[::1]:6380")),
            ("redis://[::1]", Some("[::1]:6379")),
            ("host=/run/postgresql dbname=test", None),
        ] {
            assert_eq!(host_and_port(url).as_deref(), expected, "{url}");
        }
    }

    #[test]
    fn a_missing_need_fails_the_test_unless_the_allow_list_names_it() {
        let missing = Some("nothing answers");
        assert_eq!(verdict(Need::Redis, None, None), Ok(true));
        assert_eq!(verdict(Need::Redis, None, Some("redis")), Ok(true));
        for allow in ["redis", "postgres, redis", "all"] {
            assert_eq!(
                verdict(Need::Redis, missing, Some(allow)),
                Ok(false),
                "{allow}"
            );
        }
        for allow in [
            None,
            Some(""),
            Some("postgres"),
            Some("redis-server"),
            Some("redi"),
        ] {
            let refused = verdict(Need::Redis, missing, allow).unwrap_err();
            assert!(
                refused.contains("needs redis")
                    && refused.contains("AUTH_TEST_ALLOW_MISSING=redis"),
                "{allow:?}: {refused}"
            );
        }
    }

    #[test]
    fn every_rule_names_a_known_need_and_kind() {
        let names: Vec<&str> = Need::ALL.iter().map(|need| need.name()).collect();
        let mut count = 0;
        for (need, kind, pattern) in rules() {
            assert!(names.contains(&need), "unknown need {need}");
            assert!(kind == "binary" || kind == "test", "unknown kind {kind}");
            assert!(!pattern.is_empty());
            count += 1;
        }
        assert!(count > 0);
        assert!(listed(
            Need::Postgres,
            "auth_core",
            "store::postgres::tests::x"
        ));
        assert!(!listed(Need::Postgres, "auth_core", "store::memory::x"));
    }
}
