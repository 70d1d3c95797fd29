//! Real services for tests, on free loopback ports, stopped when dropped.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A `redis-server` started for one test (no persistence), killed on drop.
pub struct RedisServer {
    child: Child,
    /// Its port on 127.0.0.1.
    pub port: u16,
    _dir: tempfile::TempDir,
}

impl RedisServer {
    /// Starts redis-server on a free port and waits until it accepts connections.
    ///
    /// Panics with a clear message when `redis-server` is not installed (`.ci/run` installs it).
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// Starts redis-server with extra arguments (e.g. `["--requirepass", "secret"]`).
    pub fn start_with(extra: &[&str]) -> Self {
        Self::start_serving(false, extra)
    }

    /// Starts redis-server serving TLS only (its port is the TLS port), with the server
    /// certificate of `certs`; clients are not asked for certificates.
    pub fn start_tls(certs: &TlsCerts) -> Self {
        let f = |name: &str| certs.dir.path().join(name).display().to_string();
        let (cert, key, ca) = (f("server.crt"), f("server.key"), f("ca.crt"));
        Self::start_serving(
            true,
            &[
                "--tls-cert-file",
                &cert,
                "--tls-key-file",
                &key,
                "--tls-ca-cert-file",
                &ca,
                "--tls-auth-clients",
                "no",
            ],
        )
    }

    fn start_serving(tls: bool, extra: &[&str]) -> Self {
        // Tests run in parallel threads: pick a port and bind it one server at a time, so two
        // servers never race for the same port.
        static STARTING: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let _one_at_a_time = STARTING.lock().unwrap_or_else(|p| p.into_inner());
        let dir = tempfile::tempdir().expect("temp dir");
        for _ in 0..5 {
            let port = free_port();
            let child = Command::new("redis-server")
                .args(if tls {
                    vec![
                        "--port".to_string(),
                        "0".to_string(),
                        "--tls-port".to_string(),
                        port.to_string(),
                    ]
                } else {
                    vec!["--port".to_string(), port.to_string()]
                })
                .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
                .arg("--dir")
                .arg(dir.path())
                .args(extra)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("redis-server not found: install it (apt-get install redis-server; .ci/run does)");
            let mut server = RedisServer {
                child,
                port,
                _dir: tempfile::tempdir().expect("temp dir"),
            };
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = server.child.try_wait() {
                    break; // exited: port taken, try another
                }
                if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    // Make sure it is our server that answered, not one that held the port.
                    std::thread::sleep(Duration::from_millis(20));
                    if let Ok(None) = server.child.try_wait() {
                        server._dir = dir;
                        return server;
                    }
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = server.child.kill();
            let _ = server.child.wait();
        }
        panic!("redis-server did not start");
    }
}

impl RedisServer {
    /// Stops the server now (SIGKILL), as if its machine were lost.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A test certificate authority and a server certificate for 127.0.0.1 / localhost, made with
/// the `openssl` command (`.ci/run` installs it): `ca.crt`, `server.crt`, `server.key`.
pub struct TlsCerts {
    /// The directory holding the files.
    pub dir: tempfile::TempDir,
}

impl TlsCerts {
    /// Generates the CA and the server certificate it signs.
    pub fn generate() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let run = |args: &[&str]| {
            let out = Command::new("openssl")
                .args(args)
                .current_dir(dir.path())
                .output()
                .expect("openssl not found: install it (apt-get install openssl; .ci/run does)");
            assert!(
                out.status.success(),
                "openssl {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        run(&[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=frocket test CA",
            "-keyout",
            "ca.key",
            "-out",
            "ca.crt",
        ]);
        run(&[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=localhost",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
        ]);
        std::fs::write(
            dir.path().join("san.ext"),
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n",
        )
        .expect("write san.ext");
        run(&[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "san.ext",
            "-out",
            "server.crt",
        ]);
        TlsCerts { dir }
    }

    /// The CA certificate (PEM) that clients trust.
    pub fn ca_file(&self) -> std::path::PathBuf {
        self.dir.path().join("ca.crt")
    }
}

/// A `frocket worker` process taking tasks from Redis, killed on drop.
pub struct WorkerProcess {
    /// The process.
    pub child: Child,
}

impl WorkerProcess {
    /// Starts `frocket worker` with the given environment (Redis host/port, prefix…).
    pub fn start(name: &str, env: &[(&str, String)]) -> Self {
        let child = Command::new(crate::frocket_bin())
            .args(["worker", "--name", name])
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start frocket worker");
        WorkerProcess { child }
    }

    /// Sends SIGTERM and waits for a clean exit (true when it exited by itself in time).
    pub fn terminate(&mut self, timeout: Duration) -> bool {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.success();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }
}

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An S3-compatible server (`moto_server`, from `pip install 'moto[server]'`), killed on drop.
pub struct S3Server {
    child: Child,
    /// Its port on 127.0.0.1.
    pub port: u16,
}

impl S3Server {
    /// Starts moto_server on a free port and waits until it answers.
    pub fn start() -> Self {
        static STARTING: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let _one_at_a_time = STARTING.lock().unwrap_or_else(|p| p.into_inner());
        let port = free_port();
        let child = Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("moto_server not found: pip install 'moto[server]' (.ci/run does)");
        let mut server = S3Server { child, port };
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = server.child.try_wait() {
                panic!("moto_server exited at start");
            }
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return server;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = server.child.kill();
        panic!("moto_server did not start");
    }

    /// The environment pointing AWS clients (and frocket) at this server.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("FROCKET_S3_AWS_ENDPOINT_URL", format!("http://127.0.0.1:{}", self.port)),
            ("AWS_ACCESS_KEY_ID", "test".to_string()),
            ("AWS_SECRET_ACCESS_KEY", "test".to_string()),
            ("AWS_REGION", "us-east-1".to_string()),
            ("AWS_EC2_METADATA_DISABLED", "true".to_string()),
        ]
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The Lambda control-plane emulator (`cargo lambda watch`, from `pip install cargo-lambda`)
/// serving this workspace's functions, stopped (with the function processes) on drop.
pub struct LambdaEmulator {
    child: Child,
    /// Its invoke port on 127.0.0.1.
    pub port: u16,
}

impl LambdaEmulator {
    /// Starts `cargo lambda watch` on a free port with up to `concurrency` instances per
    /// function and `env` passed to the functions; waits until it answers.
    pub fn start(env: &[(&str, String)], concurrency: usize) -> Self {
        Self::start_on(free_port(), env, concurrency)
    }

    /// As [`LambdaEmulator::start`], on `port` (known before start, so the functions' own
    /// environment can point back at the emulator).
    pub fn start_on(port: u16, env: &[(&str, String)], concurrency: usize) -> Self {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let log = std::fs::File::create(std::env::temp_dir().join(format!("frocket-lambda-watch-{port}.log")))
            .expect("log file");
        let mut cmd = Command::new("cargo");
        // Not the variables `cargo test` set for this test: the functions' build must look
        // like a plain `cargo build` to reuse its artifacts.
        for (k, _) in std::env::vars_os() {
            let k = k.to_string_lossy().to_string();
            if (k.starts_with("CARGO_") && k != "CARGO_HOME" && k != "CARGO_TARGET_DIR") || k.starts_with("RUST") {
                cmd.env_remove(&k);
            }
        }
        let child = cmd
            .args([
                "lambda",
                "watch",
                "--ignore-changes",
                "-A",
                "127.0.0.1",
                "-P",
                &port.to_string(),
            ])
            .args(["--concurrency", &concurrency.to_string()])
            .current_dir(root)
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .spawn()
            .expect("cargo lambda not found: pip install cargo-lambda (.ci/run does)");
        let mut emu = LambdaEmulator { child, port };
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Ok(Some(s)) = emu.child.try_wait() {
                panic!("cargo lambda watch exited at start: {s}");
            }
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return emu;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("cargo lambda watch did not start");
    }

    /// Its endpoint URL (for `FROCKET_LAMBDA_AWS_ENDPOINT_URL` and SDK clients).
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Where its log goes.
    pub fn log_path(&self) -> std::path::PathBuf {
        std::env::temp_dir().join(format!("frocket-lambda-watch-{}.log", self.port))
    }
}

/// All descendants of `pid` (children first found, then theirs), from `/proc`.
fn descendants(pid: u32) -> Vec<u32> {
    let mut parent_of = Vec::new();
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for e in entries.flatten() {
            let Ok(p) = e.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else {
                continue;
            };
            // "pid (comm) state ppid ...": comm may hold spaces, so split after the last ')'.
            let ppid = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().nth(1))
                .and_then(|x| x.parse::<u32>().ok());
            if let Some(pp) = ppid {
                parent_of.push((p, pp));
            }
        }
    }
    let mut out = vec![];
    let mut frontier = vec![pid];
    while let Some(p) = frontier.pop() {
        for &(c, pp) in &parent_of {
            if pp == p && !out.contains(&c) {
                out.push(c);
                frontier.push(c);
            }
        }
    }
    out
}

impl Drop for LambdaEmulator {
    fn drop(&mut self) {
        // The emulator starts each function in a process group of its own: stop the tree.
        let mut pids = descendants(self.child.id());
        pids.push(self.child.id());
        let list: Vec<String> = pids.iter().map(|p| p.to_string()).collect();
        let _ = Command::new("kill")
            .arg("-TERM")
            .args(&list)
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = Command::new("kill")
            .arg("-KILL")
            .args(&list)
            .stderr(Stdio::null())
            .status();
        let _ = self.child.wait();
    }
}
