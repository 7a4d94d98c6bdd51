//! Redis deployments of a test's own, built from `redis-server` processes on free loopback
//! ports: a [`RedisCluster`] (three primaries, a replica each) and a [`RedisSentinels`] setup (a
//! primary, a replica, three sentinels), each with a way to fail over. Every process is killed
//! and the working directory removed when the value is dropped. Blocking, like
//! [`private`](super::private): call them from `spawn_blocking` in async tests. `redis-cli`
//! (Debian's redis-tools, which redis-server depends on) builds the cluster.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::private::{free_port, listening, wait_until};

/// One `redis-server` (or sentinel) process.
struct Node {
    port: u16,
    child: Option<Child>,
}

impl Node {
    /// Starts the process and waits until it accepts connections on `port`, and is still
    /// running then (so it is this process listening, not another that took the port).
    fn start(port: u16, args: &[String]) -> Self {
        let child = Command::new("redis-server")
            .args(args)
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server (Debian's redis-server package)");
        // Owned from here: a panic below kills it on the way out.
        let mut node = Self {
            port,
            child: Some(child),
        };
        wait_until("a private Redis node", || {
            let alive = node
                .child
                .as_mut()
                .is_some_and(|child| matches!(child.try_wait(), Ok(None)));
            assert!(
                alive,
                "redis-server on port {port} exited (see its log above)"
            );
            listening(port)
        });
        node
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A working directory of the test's own, removed when dropped.
struct WorkDir(PathBuf);

impl WorkDir {
    fn new(what: &str) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "auth-{what}-{}-{:016x}",
            std::process::id(),
            rand::random::<u64>()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A loopback `redis-server` on `port` working in `dir`, without persistence, whose replicas
/// sync at once (not after the default 5 s wait for others), with `extra` arguments.
fn server_args(port: u16, dir: &WorkDir, extra: &[&str]) -> Vec<String> {
    let port = port.to_string();
    let mut args = vec![
        "--port",
        port.as_str(),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--repl-diskless-sync-delay",
        "0",
        "--dir",
        dir.0.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    args.into_iter().map(str::to_owned).collect()
}

/// `redis-cli -p port ARGS...`: its standard output (an error reply is output too).
fn cli(port: u16, args: &[&str]) -> String {
    let output = Command::new("redis-cli")
        .args(["-h", "127.0.0.1", "-p", &port.to_string()])
        .args(args)
        .output()
        .expect("redis-cli (Debian's redis-tools)");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// A Redis Cluster of three primaries with one replica each.
pub struct RedisCluster {
    nodes: Vec<Node>,
    _dir: WorkDir,
}

impl RedisCluster {
    /// Starts six nodes, joins them with `redis-cli --cluster create` and waits until every
    /// node says the cluster is ok and every replica has synced. Nodes call a primary failed
    /// after 2 s of silence.
    pub fn start() -> Self {
        let dir = WorkDir::new("redis-cluster");
        let nodes: Vec<Node> = (0..6)
            .map(|_| {
                let port = free_port();
                let config = format!("nodes-{port}.conf");
                // A bus port of its own: the default (port + 10000) would not exist for a
                // port above 55535, and could be taken.
                let bus = free_port().to_string();
                let args = server_args(
                    port,
                    &dir,
                    &[
                        "--cluster-enabled",
                        "yes",
                        "--cluster-config-file",
                        &config,
                        "--cluster-node-timeout",
                        "2000",
                        "--cluster-port",
                        &bus,
                    ],
                );
                Node::start(port, &args)
            })
            .collect();
        let addresses: Vec<String> = nodes
            .iter()
            .map(|node| format!("127.0.0.1:{}", node.port))
            .collect();
        let created = Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(&addresses)
            .args(["--cluster-replicas", "1", "--cluster-yes"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("redis-cli (Debian's redis-tools)");
        assert!(created.success(), "redis-cli --cluster create failed");
        let cluster = Self { nodes, _dir: dir };
        cluster.wait_until_ok();
        // A replica that never synced refuses to take over (its data counts as too old).
        wait_until("every replica to sync", || {
            cluster.topology().iter().all(|(port, _, primary, _)| {
                *primary || cli(*port, &["info", "replication"]).contains("master_link_status:up")
            })
        });
        cluster
    }

    /// Waits until every running node reports `cluster_state:ok` and three primaries.
    pub fn wait_until_ok(&self) {
        wait_until("the cluster to be ok", || {
            self.running()
                .all(|port| cli(port, &["cluster", "info"]).contains("cluster_state:ok"))
                && self.primaries().len() == 3
        });
    }

    fn running(&self) -> impl Iterator<Item = u16> + '_ {
        self.nodes
            .iter()
            .filter(|node| node.child.is_some())
            .map(|node| node.port)
    }

    /// `CLUSTER NODES` as a running node sees it: `(port, id, is_primary, primary's id)` of
    /// every node not marked failed.
    fn topology(&self) -> Vec<(u16, String, bool, String)> {
        let Some(port) = self.running().next() else {
            return Vec::new();
        };
        cli(port, &["cluster", "nodes"])
            .lines()
            .filter_map(|line| {
                let fields: Vec<&str> = line.split_whitespace().collect();
                let address = fields.get(1)?;
                let node_port: u16 = address.split(['@', ':']).nth(1)?.parse().ok()?;
                let flags = fields.get(2)?;
                (!flags.contains("fail")).then(|| {
                    (
                        node_port,
                        fields[0].to_owned(),
                        flags.contains("master"),
                        fields.get(3).copied().unwrap_or("-").to_owned(),
                    )
                })
            })
            .collect()
    }

    /// The ports of the primaries, as the cluster sees them now.
    pub fn primaries(&self) -> Vec<u16> {
        let mut ports: Vec<u16> = self
            .topology()
            .into_iter()
            .filter(|(_, _, primary, _)| *primary)
            .map(|(port, ..)| port)
            .collect();
        ports.sort_unstable();
        ports
    }

    /// The port of a replica of the primary on `primary`.
    pub fn replica_of(&self, primary: u16) -> u16 {
        let topology = self.topology();
        let id = topology
            .iter()
            .find(|(port, ..)| *port == primary)
            .map(|(_, id, ..)| id.clone())
            .expect("a known primary");
        topology
            .iter()
            .find(|(_, _, is_primary, of)| !is_primary && *of == id)
            .map(|(port, ..)| *port)
            .expect("a replica of that primary")
    }

    /// A manual failover: `CLUSTER FAILOVER` on `replica`, which waits until it is a primary.
    /// A manual failover gives up when the replica cannot catch up with its primary in time
    /// (a busy machine): it is asked again every 5 s, for up to 30 s.
    pub fn failover_to(&self, replica: u16) {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        let mut first = true;
        while std::time::Instant::now() < deadline {
            // A later ask may find the earlier one still running: only the first must be OK.
            let answer = cli(replica, &["cluster", "failover"]);
            assert!(
                !first || answer.contains("OK"),
                "CLUSTER FAILOVER: {answer}"
            );
            first = false;
            let asked = std::time::Instant::now();
            while asked.elapsed() < Duration::from_secs(5) {
                if self.primaries().contains(&replica) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        panic!("the replica on {replica} did not take over within 30 s");
    }

    /// Kills the node on `port` (SIGKILL), as a crash would.
    pub fn kill(&mut self, port: u16) {
        self.nodes
            .iter_mut()
            .find(|node| node.port == port)
            .expect("a node of this cluster")
            .kill();
    }

    /// Waits (up to 30 s) until `replica` has been promoted in place of a killed primary and
    /// every running node says the cluster is ok again.
    pub fn wait_for_promotion(&self, replica: u16) {
        // The node timeout (2 s), the replica's election delay, the vote, and the news
        // reaching every node: seconds, more on a busy machine.
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while std::time::Instant::now() < deadline {
            let ok = self
                .running()
                .all(|port| cli(port, &["cluster", "info"]).contains("cluster_state:ok"));
            if ok && self.primaries().contains(&replica) {
                return;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        let seen = self
            .running()
            .next()
            .map(|port| cli(port, &["cluster", "nodes"]));
        panic!("{replica} was not promoted within 30 s; the cluster: {seen:?}");
    }

    /// `redis-cluster://` with every node as a seed.
    pub fn url(&self) -> String {
        let mut ports = self.nodes.iter().map(|node| node.port);
        let first = ports.next().unwrap();
        let seeds: Vec<String> = ports.map(|port| format!("node=127.0.0.1:{port}")).collect();
        format!("redis-cluster://127.0.0.1:{first}?{}", seeds.join("&"))
    }
}

/// The name the sentinels monitor the primary under.
pub const SENTINEL_SERVICE: &str = "auth";

/// A primary, its replica, and three sentinels watching them (quorum two).
pub struct RedisSentinels {
    primary: Node,
    replica: Node,
    sentinels: Vec<Node>,
    _dir: WorkDir,
}

impl RedisSentinels {
    /// Starts them and waits until the replica is in sync and every sentinel knows the other
    /// two and the replica. A primary silent for 1 s is down.
    pub fn start() -> Self {
        let dir = WorkDir::new("redis-sentinel");
        let plain = |port: u16, extra: &[&str]| Node::start(port, &server_args(port, &dir, extra));
        let primary_port = free_port();
        let primary = plain(primary_port, &[]);
        let replica = plain(
            free_port(),
            &["--replicaof", "127.0.0.1", &primary_port.to_string()],
        );
        wait_until("the replica to sync", || {
            cli(replica.port, &["info", "replication"]).contains("master_link_status:up")
        });
        let sentinels = (0..3)
            .map(|_| {
                let port = free_port();
                let config = dir.0.join(format!("sentinel-{port}.conf"));
                std::fs::write(
                    &config,
                    format!(
                        "port {port}\nbind 127.0.0.1\ndir {dir}\n\
                         sentinel monitor {SENTINEL_SERVICE} 127.0.0.1 {primary_port} 2\n\
                         sentinel down-after-milliseconds {SENTINEL_SERVICE} 1000\n\
                         sentinel failover-timeout {SENTINEL_SERVICE} 5000\n\
                         sentinel parallel-syncs {SENTINEL_SERVICE} 1\n",
                        dir = dir.0.display()
                    ),
                )
                .unwrap();
                Node::start(
                    port,
                    &[config.to_str().unwrap().to_owned(), "--sentinel".to_owned()],
                )
            })
            .collect();
        let setup = Self {
            primary,
            replica,
            sentinels,
            _dir: dir,
        };
        wait_until("the sentinels to know each other and the replica", || {
            setup.sentinels.iter().all(|sentinel| {
                let known = cli(sentinel.port, &["sentinel", "master", SENTINEL_SERVICE]);
                let field = |name: &str| {
                    let mut lines = known.lines();
                    while let Some(line) = lines.next() {
                        if line == name {
                            return lines.next().unwrap_or_default().to_owned();
                        }
                    }
                    String::new()
                };
                field("num-other-sentinels") == "2" && field("num-slaves") == "1"
            })
        });
        setup
    }

    /// The port of the server the sentinels name as primary now.
    pub fn primary(&self) -> u16 {
        let answer = cli(
            self.sentinels[0].port,
            &["sentinel", "get-master-addr-by-name", SENTINEL_SERVICE],
        );
        answer
            .lines()
            .nth(1)
            .and_then(|port| port.trim().parse().ok())
            .unwrap_or(0)
    }

    /// Kills the primary (SIGKILL) and waits until the sentinels have promoted the replica.
    pub fn kill_primary_and_wait_for_promotion(&mut self) {
        self.primary.kill();
        let replica = self.replica.port;
        for _ in 0..3 {
            if self.primary() == replica {
                break;
            }
            std::thread::sleep(Duration::from_secs(2));
        }
        wait_until("the sentinels to promote the replica", || {
            self.primary() == replica
                && cli(replica, &["info", "replication"]).contains("role:master")
        });
    }

    /// `redis-sentinel://` with every sentinel as a seed.
    pub fn url(&self) -> String {
        let mut ports = self.sentinels.iter().map(|node| node.port);
        let first = ports.next().unwrap();
        let seeds: Vec<String> = ports
            .map(|port| format!("&node=127.0.0.1:{port}"))
            .collect();
        format!(
            "redis-sentinel://127.0.0.1:{first}?sentinelServiceName={SENTINEL_SERVICE}{}",
            seeds.concat()
        )
    }
}
