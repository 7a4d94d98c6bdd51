//! Private instances of the stores, for tests that break them: each runs on a free loopback
//! port, belongs to one test, and is stopped and removed when dropped, so shared services are
//! never paused, stopped or emptied under tests running in parallel. They start the real
//! programs: `redis-server` on the `PATH`, PostgreSQL's binaries under `/usr/lib/postgresql`
//! (through `runuser -u postgres` when the tests run as root, which PostgreSQL refuses).
//! Blocking: call them from `spawn_blocking` or `block_in_place` in async tests.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A free TCP port on loopback (free when asked; the caller binds it right after).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Whether something accepts connections on `port`.
pub fn listening(port: u16) -> bool {
    std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
}

/// Polls `ready` every 50 ms; panics naming `what` if it is still false after 10 s.
pub fn wait_until(what: &str, mut ready: impl FnMut() -> bool) {
    for _ in 0..200 {
        if ready() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("{what} did not come up within 10 s");
}

/// A `redis-server` of the test's own, without persistence: killed, it comes back empty.
pub struct PrivateRedis {
    /// Where it listens, on 127.0.0.1, across restarts.
    pub port: u16,
    child: Option<Child>,
    /// With TLS only (no plaintext port): the server's certificate and key.
    tls: Option<ServerCert>,
}

impl PrivateRedis {
    /// Starts one on a free port and waits until it accepts connections.
    pub fn start() -> Self {
        let mut redis = Self {
            port: free_port(),
            child: None,
            tls: None,
        };
        redis.run();
        redis
    }

    /// Starts one that speaks TLS only, with a certificate `ca` issues for 127.0.0.1 and
    /// `localhost`.
    pub fn start_tls(ca: &TestCa) -> Self {
        let mut redis = Self {
            port: free_port(),
            child: None,
            tls: Some(ca.issue(&["DNS:localhost", "IP:127.0.0.1"])),
        };
        redis.run();
        redis
    }

    /// Starts the process (again, after [`kill`](Self::kill): empty) on the same port.
    pub fn run(&mut self) {
        let mut command = Command::new("redis-server");
        command.args([
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            "/tmp",
        ]);
        match &self.tls {
            None => command.args(["--port", &self.port.to_string()]),
            Some(cert) => command
                .args(["--port", "0", "--tls-port", &self.port.to_string()])
                .args(["--tls-auth-clients", "no", "--tls-cert-file"])
                .arg(&cert.cert)
                .arg("--tls-key-file")
                .arg(&cert.key),
        };
        let child = command
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server (Debian's redis-server package)");
        self.child = Some(child);
        let port = self.port;
        wait_until("the private Redis", || listening(port));
    }

    /// Freezes the process (SIGSTOP): connections stay open, nothing answers.
    pub fn pause(&self) {
        self.signal("STOP");
    }

    /// Lets a paused process go on (SIGCONT).
    pub fn resume(&self) {
        self.signal("CONT");
    }

    fn signal(&self, signal: &str) {
        let pid = self.child.as_ref().unwrap().id().to_string();
        assert!(
            Command::new("kill")
                .args(["-s", signal, &pid])
                .status()
                .unwrap()
                .success()
        );
    }

    /// Kills the process (SIGKILL) and reaps it; what it held is gone.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// `redis://127.0.0.1:<port>`, or `rediss://` for one that speaks TLS.
    pub fn url(&self) -> String {
        let scheme = if self.tls.is_some() {
            "rediss"
        } else {
            "redis"
        };
        format!("{scheme}://127.0.0.1:{}", self.port)
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        // A paused process is killed all the same; the signal only has to reach it.
        self.kill();
    }
}

/// A PostgreSQL cluster of the test's own, on a free port, removed when dropped.
pub struct PrivatePostgres {
    /// Where it listens, on 127.0.0.1, across restarts.
    pub port: u16,
    dir: PathBuf,
    /// Server settings besides the port and the socket directory.
    settings: String,
}

impl PrivatePostgres {
    fn bin(name: &str) -> PathBuf {
        let versions = std::fs::read_dir("/usr/lib/postgresql").expect("PostgreSQL's binaries");
        let mut found: Vec<PathBuf> = versions
            .map(|version| version.unwrap().path().join("bin").join(name))
            .filter(|path| path.exists())
            .collect();
        found.sort();
        found
            .pop()
            .unwrap_or_else(|| panic!("no {name} under /usr/lib/postgresql"))
    }

    /// `program` as the `postgres` user when this process is root (PostgreSQL refuses to run
    /// as root), as this user otherwise.
    fn as_postgres(program: &str) -> Command {
        if !Self::root() {
            return Command::new(Self::bin(program));
        }
        let mut command = Command::new("runuser");
        command
            .args(["-u", "postgres", "--"])
            .arg(Self::bin(program));
        command
    }

    fn root() -> bool {
        Self::id(&["-u"]) == 0
    }

    /// A number `id` prints.
    fn id(args: &[&str]) -> u32 {
        let out = Command::new("id").args(args).output().unwrap();
        String::from_utf8(out.stdout)
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    }

    /// Creates the cluster in a new temporary directory, starts it on a free port and waits
    /// until it accepts connections.
    pub fn start() -> Self {
        Self::start_with(|_| String::new())
    }

    /// Starts one that also accepts TLS (`ssl=on`; plaintext stays allowed, as `sslmode`
    /// chooses), with a certificate `ca` issues for 127.0.0.1 and `localhost`.
    pub fn start_tls(ca: &TestCa) -> Self {
        Self::start_with(|dir| {
            let issued = ca.issue(&["DNS:localhost", "IP:127.0.0.1"]);
            // The server reads its key as itself, and refuses a key others may read.
            let (cert, key) = (dir.join("server.pem"), dir.join("server.key"));
            std::fs::copy(&issued.cert, &cert).unwrap();
            std::fs::copy(&issued.key, &key).unwrap();
            for file in [&cert, &key] {
                Self::give_to_postgres(file);
            }
            std::fs::set_permissions(&key, std::os::unix::fs::PermissionsExt::from_mode(0o600))
                .unwrap();
            format!(
                "-c ssl=on -c ssl_cert_file={} -c ssl_key_file={}",
                cert.display(),
                key.display()
            )
        })
    }

    /// Hands `path` to the `postgres` user when this process is root.
    fn give_to_postgres(path: &std::path::Path) {
        if Self::root() {
            let (user, group) = (Self::id(&["-u", "postgres"]), Self::id(&["-g", "postgres"]));
            std::os::unix::fs::chown(path, Some(user), Some(group)).unwrap();
        }
    }

    fn start_with(settings: impl FnOnce(&std::path::Path) -> String) -> Self {
        let dir =
            std::env::temp_dir().join(format!("auth-private-pg-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir(&dir).unwrap();
        Self::give_to_postgres(&dir);
        let initdb = Self::as_postgres("initdb")
            .args(["-D"])
            .arg(dir.join("data"))
            .args(["-A", "trust", "-U", "postgres", "--no-sync"])
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(initdb.success(), "initdb");
        let settings = settings(&dir);
        let postgres = Self {
            port: free_port(),
            dir,
            settings,
        };
        postgres.run();
        postgres
    }

    fn pg_ctl(&self, action: &str) -> bool {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off {}",
            self.port,
            self.dir.display(),
            self.settings
        );
        Self::as_postgres("pg_ctl")
            .arg("-D")
            .arg(self.dir.join("data"))
            .args(["-o", &options, "-l"])
            .arg(self.dir.join("log"))
            .args(["-m", "fast", "-w", action])
            .stdout(Stdio::null())
            .status()
            .unwrap()
            .success()
    }

    /// Starts the server (again, after [`stop`](Self::stop)) and waits until it is up.
    pub fn run(&self) {
        assert!(self.pg_ctl("start"), "pg_ctl start");
    }

    /// Stops the server (fast shutdown: sessions are disconnected) and waits until it is down.
    pub fn stop(&self) {
        assert!(self.pg_ctl("stop"), "pg_ctl stop");
    }

    /// The directory of its Unix socket.
    pub fn socket_dir(&self) -> &std::path::Path {
        &self.dir
    }

    /// `postgres://postgres@127.0.0.1:<port>/postgres` (trust authentication).
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let _ = self.pg_ctl("stop");
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A certificate authority of the test's own (made with the `openssl` command), issuing server
/// certificates; its directory is removed when dropped.
pub struct TestCa {
    dir: PathBuf,
    /// The CA's certificate (PEM): what a client trusts.
    pub cert: PathBuf,
    key: PathBuf,
}

/// A certificate and its private key, PEM files.
#[derive(Debug, Clone)]
pub struct ServerCert {
    /// The certificate.
    pub cert: PathBuf,
    /// Its private key (unencrypted).
    pub key: PathBuf,
}

impl TestCa {
    /// A new P-256 CA, valid for two days.
    pub fn new() -> Self {
        let dir =
            std::env::temp_dir().join(format!("auth-test-ca-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir(&dir).unwrap();
        let (cert, key) = (dir.join("ca.pem"), dir.join("ca.key"));
        openssl(
            Command::new("openssl")
                .args([
                    "req",
                    "-x509",
                    "-newkey",
                    "ec",
                    "-pkeyopt",
                    "ec_paramgen_curve:prime256v1",
                ])
                .args([
                    "-nodes",
                    "-days",
                    "2",
                    "-subj",
                    &format!("/CN=auth test CA {}", uuid::Uuid::new_v4().simple()),
                ])
                .args(["-addext", "basicConstraints=critical,CA:TRUE"])
                .args([
                    "-addext",
                    "keyUsage=critical,keyCertSign,cRLSign",
                    "-keyout",
                ])
                .arg(&key)
                .arg("-out")
                .arg(&cert),
        );
        Self { dir, cert, key }
    }

    /// A server certificate for `names` (`DNS:...` or `IP:...` subject alternative names).
    pub fn issue(&self, names: &[&str]) -> ServerCert {
        let name = uuid::Uuid::new_v4().simple().to_string();
        let (cert, key) = (
            self.dir.join(format!("{name}.pem")),
            self.dir.join(format!("{name}.key")),
        );
        let (request, extensions) = (
            self.dir.join(format!("{name}.csr")),
            self.dir.join(format!("{name}.ext")),
        );
        openssl(
            Command::new("openssl")
                .args([
                    "req",
                    "-newkey",
                    "ec",
                    "-pkeyopt",
                    "ec_paramgen_curve:prime256v1",
                ])
                .args(["-nodes", "-subj", "/CN=auth test server", "-keyout"])
                .arg(&key)
                .arg("-out")
                .arg(&request),
        );
        std::fs::write(
            &extensions,
            format!(
                "subjectAltName={}\nbasicConstraints=critical,CA:FALSE\n\
                 keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n",
                names.join(",")
            ),
        )
        .unwrap();
        openssl(
            Command::new("openssl")
                .args(["x509", "-req", "-days", "2", "-in"])
                .arg(&request)
                .arg("-CA")
                .arg(&self.cert)
                .arg("-CAkey")
                .arg(&self.key)
                .args(["-set_serial", &format!("0x{}", &name[..16])])
                .arg("-extfile")
                .arg(&extensions)
                .arg("-out")
                .arg(&cert),
        );
        ServerCert { cert, key }
    }
}

impl Default for TestCa {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for TestCa {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn openssl(command: &mut Command) {
    let out = command.output().expect("the openssl command");
    assert!(
        out.status.success(),
        "openssl: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// An SMTP server of the test's own: Python's `aiosmtpd` on a free loopback port, keeping every
/// mail it accepts in a Maildir. Mail is read from there only. Stopped and removed when
/// dropped.
pub struct PrivateSmtp {
    /// Where it listens, on 127.0.0.1.
    pub port: u16,
    dir: PathBuf,
    child: Option<Child>,
}

impl PrivateSmtp {
    /// Starts one on a free port and waits until it accepts connections.
    pub fn start() -> Self {
        Self::start_on(free_port())
    }

    /// Starts one on `port` (a port a sink already points at, to bring "the mail server"
    /// back) and waits until it accepts connections.
    pub fn start_on(port: u16) -> Self {
        let dir = spool_dir(port);
        let child = Command::new("python3")
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}")])
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(dir.join("maildir"))
            .stdout(Stdio::null())
            .spawn()
            .expect("python3 with aiosmtpd");
        Self::running(port, dir, child)
    }

    /// The server `child` just started, once it accepts connections on `port`.
    fn running(port: u16, dir: PathBuf, child: Child) -> Self {
        let smtp = Self {
            port,
            dir,
            child: Some(child),
        };
        wait_until("the private SMTP server", || listening(port));
        smtp
    }

    /// Starts one that requires STARTTLS (with a certificate `ca` issues for 127.0.0.1) and
    /// then AUTH as `user` with `password` before it takes a mail.
    pub fn start_secure(ca: &TestCa, user: &str, password: &str) -> Self {
        let port = free_port();
        let dir = spool_dir(port);
        let cert = ca.issue(&["IP:127.0.0.1"]);
        let script = dir.join("secure_smtp.py");
        std::fs::write(&script, SECURE_SMTP).unwrap();
        let child = Command::new("python3")
            .arg(&script)
            .arg(port.to_string())
            .arg(dir.join("maildir"))
            .arg(&cert.cert)
            .arg(&cert.key)
            .args([user, password])
            .stdout(Stdio::null())
            .spawn()
            .expect("python3 with aiosmtpd");
        Self::running(port, dir, child)
    }

    /// `smtp://127.0.0.1:<port>` (no TLS, no authentication).
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Every mail received so far, as raw text, in no particular order.
    pub fn mails(&self) -> Vec<String> {
        let new = self.dir.join("maildir").join("new");
        let Ok(entries) = std::fs::read_dir(new) else {
            return Vec::new();
        };
        entries
            .flatten()
            .filter_map(|entry| std::fs::read_to_string(entry.path()).ok())
            .collect()
    }
}

/// A fresh folder for the spool of a server on `port`.
fn spool_dir(port: u16) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "auth-smtp-{}-{port}-{:08x}",
        std::process::id(),
        rand::random::<u32>()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// An aiosmtpd server that takes mail only after STARTTLS and AUTH (LOGIN or PLAIN):
/// `secure_smtp.py PORT MAILDIR CERT KEY USER PASSWORD`.
const SECURE_SMTP: &str = include_str!("secure_smtp.py");

impl Drop for PrivateSmtp {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
