//! The examples are programs people copy: run each one and check what it says.
#![allow(clippy::unwrap_used)]

use std::process::Command;

fn run(bin: &str) -> String {
    let output = Command::new(bin).output().unwrap();
    assert!(output.status.success(), "{bin}: {output:?}");
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn password_login_registers_refuses_and_upgrades_legacy_hashes() {
    let out = run(env!("CARGO_BIN_EXE_password_login"));
    assert!(
        out.contains("registered ada@example.com (argon2id)"),
        "{out}"
    );
    assert!(
        out.contains("refused bob@example.com: weak_password"),
        "{out}"
    );
    let expected = "login ada@example.com:\n  ok\n\
                    login ada@example.com:\n  refused: invalid_credentials\n\
                    login nobody@example.com:\n  refused: invalid_credentials\n\
                    login cy@example.com:\n  upgraded cy@example.com's hash to argon2id\n  ok\n\
                    login cy@example.com:\n  ok\n";
    assert!(out.ends_with(expected), "{out}");
}

#[test]
fn token_rotation_keeps_old_tokens_valid_until_the_key_is_retired() {
    let out = run(env!("CARGO_BIN_EXE_token_rotation"));
    assert!(
        out.contains("the old token still verifies for user-7"),
        "{out}"
    );
    assert!(out.contains("JWKS now publishes 2 keys"), "{out}");
    assert!(
        out.contains("after retirement the old token is refused: invalid token: unknown key id"),
        "{out}"
    );
}

#[test]
fn custom_user_store_registers_and_logs_in_through_its_own_store() {
    let out = run(env!("CARGO_BIN_EXE_custom_user_store"));
    let expected = "registered ada@example.com\n\
                    registering ADA@example.com again: refused (conflict)\n\
                    login as ADA@EXAMPLE.COM: ok\n\
                    the access token speaks for ada@example.com\n\
                    login with a wrong password: refused\n\
                    the directory holds 1 account(s)\n";
    assert_eq!(out, expected);
}

/// A server example started as its own process, killed if the test ends early.
#[cfg(unix)]
struct Server {
    child: std::process::Child,
    lines: std::sync::mpsc::Receiver<String>,
}

#[cfg(unix)]
impl Server {
    const WAIT: std::time::Duration = std::time::Duration::from_secs(30);

    /// Starts `bin` with `PORT=0` and waits for the address it prints.
    fn start(bin: &str) -> (Self, std::net::SocketAddr) {
        use std::io::BufRead as _;
        use std::process::Stdio;

        let mut child = Command::new(bin)
            .env("PORT", "0")
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let server = Self { child, lines };
        let first = server.lines.recv_timeout(Self::WAIT).unwrap();
        let addr = first
            .strip_prefix("listening on http://")
            .unwrap_or_else(|| panic!("{bin}: {first}"))
            .parse()
            .unwrap();
        (server, addr)
    }

    /// Sends Ctrl-C (SIGINT) and waits, bounded, for a clean exit; returns what it printed.
    fn interrupt(mut self) -> String {
        let status = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let deadline = std::time::Instant::now() + Self::WAIT;
        let exit = loop {
            if let Some(exit) = self.child.try_wait().unwrap() {
                break exit;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no exit within {:?} of SIGINT",
                Self::WAIT
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        };
        assert!(exit.success(), "{exit:?}");
        let mut out = String::new();
        while let Ok(line) = self.lines.recv_timeout(Self::WAIT) {
            out.push_str(&line);
            out.push('\n');
        }
        out
    }
}

#[cfg(unix)]
impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// `GET path` over HTTP/1.1; the status line.
#[cfg(unix)]
fn status_line(addr: std::net::SocketAddr, path: &str) -> String {
    use std::io::{Read as _, Write as _};

    let mut stream = std::net::TcpStream::connect_timeout(&addr, Server::WAIT).unwrap();
    stream.set_read_timeout(Some(Server::WAIT)).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer.lines().next().unwrap_or_default().to_owned()
}

/// An HTTP example program answers its probes and guards `/orders`, then stops on Ctrl-C.
#[cfg(unix)]
fn http_example_serves_and_stops(binary: &str) {
    let (server, addr) = Server::start(binary);
    assert_eq!(status_line(addr, "/health/liveness"), "HTTP/1.1 200 OK");
    assert_eq!(status_line(addr, "/orders"), "HTTP/1.1 401 Unauthorized");
    let out = server.interrupt();
    assert!(out.ends_with("shutting down\nstopped\n"), "{out}");
}

#[cfg(unix)]
#[test]
fn axum_app_listens_on_port_and_stops_on_ctrl_c() {
    http_example_serves_and_stops(env!("CARGO_BIN_EXE_axum_app"));
}

#[cfg(unix)]
#[test]
fn hyper_server_listens_on_port_and_stops_on_ctrl_c() {
    http_example_serves_and_stops(env!("CARGO_BIN_EXE_hyper_server"));
}

#[cfg(unix)]
#[test]
fn tonic_server_listens_on_port_and_stops_on_ctrl_c() {
    let (server, addr) = Server::start(env!("CARGO_BIN_EXE_tonic_server"));
    // The demo token is printed once the server is set up.
    let token_line = server.lines.recv_timeout(Server::WAIT).unwrap();
    assert!(
        token_line.starts_with("demo access token: "),
        "{token_line}"
    );
    std::net::TcpStream::connect_timeout(&addr, Server::WAIT).unwrap();
    let out = server.interrupt();
    assert!(out.ends_with("shutting down\nstopped\n"), "{out}");
}

#[test]
fn oidc_relying_party_says_what_it_lacks_and_where_discovery_failed() {
    let bin = env!("CARGO_BIN_EXE_oidc_relying_party");
    let output = Command::new(bin)
        .env_remove("OIDC_ISSUER")
        .env("PORT", "0")
        .output()
        .unwrap();
    assert!(!output.status.success(), "{output:?}");
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        "oidc_relying_party: OIDC_ISSUER is required\n"
    );

    // A port nothing listens on: discovery cannot reach it.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let issuer = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let output = Command::new(bin)
        .envs([
            ("OIDC_ISSUER", issuer.as_str()),
            ("OIDC_CLIENT_ID", "example"),
            ("PORT", "0"),
        ])
        .output()
        .unwrap();
    assert!(!output.status.success(), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.starts_with("oidc_relying_party: discovery failed: "),
        "{stderr}"
    );
}
