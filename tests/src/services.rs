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
    /// The arguments it was started with (for a restart on the same port).
    args: Vec<String>,
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
            let mut args: Vec<String> = if tls {
                vec!["--port".into(), "0".into(), "--tls-port".into(), port.to_string()]
            } else {
                vec!["--port".into(), port.to_string()]
            };
            args.extend(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir"].map(String::from));
            args.push(dir.path().display().to_string());
            args.extend(extra.iter().map(|a| a.to_string()));
            let child = spawn_redis(&args);
            let mut server = RedisServer {
                child,
                port,
                _dir: tempfile::tempdir().expect("temp dir"),
                args,
            };
            if server.wait_ready(Duration::from_secs(10)) {
                server._dir = dir;
                return server;
            }
            let _ = server.child.kill();
            let _ = server.child.wait();
        }
        panic!("redis-server did not start");
    }
}

fn spawn_redis(args: &[String]) -> Child {
    Command::new("redis-server")
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("redis-server not found: install it (apt-get install redis-server; .ci/run does)")
}

impl RedisServer {
    /// Waits until this server accepts connections on its port (false when it exited, e.g.
    /// because the port was taken, or the deadline passed).
    fn wait_ready(&mut self, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return false;
            }
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                // Make sure it is our server that answered, not one that held the port.
                std::thread::sleep(Duration::from_millis(20));
                return matches!(self.child.try_wait(), Ok(None));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    /// Stops the server now (SIGKILL), as if its machine were lost.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts the server again on the same port (after [`RedisServer::kill`]), empty — what a
    /// client sees of a failover to a replica that had not received the data, or of a reboot
    /// without persistence. Panics when it cannot listen again within 10 s.
    pub fn restart(&mut self) {
        self.kill();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            self.child = spawn_redis(&self.args);
            if self.wait_ready(Duration::from_secs(5)) {
                return;
            }
            let _ = self.child.kill();
            let _ = self.child.wait();
            assert!(
                Instant::now() < deadline,
                "redis-server did not restart on port {}",
                self.port
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// A `frocket serve` process on a free loopback port, killed on drop.
pub struct ServeProcess {
    /// The process.
    pub child: Child,
    /// Its port on 127.0.0.1.
    pub port: u16,
}

impl ServeProcess {
    /// Starts `frocket serve` with the given environment and waits (30 s at most) until it
    /// accepts connections. Its log (stderr) goes to `log` when given.
    pub fn start(env: &[(&str, String)], log: Option<&std::path::Path>) -> Self {
        let port = free_port();
        let stderr = match log.and_then(|p| std::fs::File::create(p).ok()) {
            Some(f) => Stdio::from(f),
            None => Stdio::null(),
        };
        let child = Command::new(crate::frocket_bin())
            .args(["serve", "--port", &port.to_string()])
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("start frocket serve");
        let mut serve = ServeProcess { child, port };
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "frocket serve did not start");
            assert!(
                matches!(serve.child.try_wait(), Ok(None)),
                "frocket serve exited at start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        serve.port = port;
        serve
    }

    /// One request to this server (see [`http`]).
    pub fn request(&self, method: &str, path: &str, body: &str) -> HttpReply {
        http(self.port, method, path, body, Duration::from_secs(120))
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An HTTP reply: status code, headers (lower-case names) and body.
#[derive(Debug, Clone)]
pub struct HttpReply {
    /// The status code.
    pub status: u16,
    /// Header lines as (lower-case name, value).
    pub headers: Vec<(String, String)>,
    /// The body (chunked bodies are not decoded: the server sends whole bodies).
    pub body: String,
}

impl HttpReply {
    /// The body as JSON (panics with the body when it is not).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    /// The `errorMessage` of a failure envelope ("" when there is none).
    pub fn error_message(&self) -> String {
        self.json()["errorMessage"].as_str().unwrap_or_default().to_string()
    }

    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// One HTTP/1.1 request to 127.0.0.1:`port` (connection closed after it), waiting at most
/// `timeout` for the reply.
pub fn http(port: u16, method: &str, path: &str, body: &str, timeout: Duration) -> HttpReply {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect to the server");
    s.set_read_timeout(Some(timeout)).expect("read timeout");
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("send the request");
    let mut out = String::new();
    s.read_to_string(&mut out).expect("read the reply (in time)");
    let (head, body) = out.split_once("\r\n\r\n").unwrap_or((&out, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    HttpReply {
        status,
        headers,
        body: body.to_string(),
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
        Self::start_bin(&crate::frocket_bin(), name, env)
    }

    /// As [`WorkerProcess::start`], with the `frocket` binary at `bin` (a benchmark runs the
    /// release build).
    pub fn start_bin(bin: &std::path::Path, name: &str, env: &[(&str, String)]) -> Self {
        let child = Command::new(bin)
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

    /// Stops the server now (SIGKILL).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
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
        Self::start_with(port, env, concurrency, &[])
    }

    /// As [`LambdaEmulator::start_on`], with extra `cargo lambda watch` arguments (a benchmark
    /// passes `--release`).
    pub fn start_with(port: u16, env: &[(&str, String)], concurrency: usize, extra: &[&str]) -> Self {
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
            .args(extra)
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

/// An HTTP proxy in front of an S3-compatible server that answers the first `fail_per_object`
/// GETs of each object with `503 SlowDown` (S3's throttling answer) and forwards everything else
/// — throttling injected on the wire, the SDK's real retries answering it. One request per
/// connection (`Connection: close`). Stopped when dropped.
pub struct ThrottlingProxy {
    /// Its port on 127.0.0.1.
    pub port: u16,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    throttled: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    accept: Option<std::thread::JoinHandle<()>>,
}

impl ThrottlingProxy {
    /// Starts the proxy to 127.0.0.1:`upstream`.
    pub fn start(upstream: u16, fail_per_object: usize) -> Self {
        use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
        use std::sync::{Arc, Mutex};
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        let port = listener.local_addr().expect("proxy address").port();
        listener.set_nonblocking(true).expect("non-blocking listener");
        let stop = Arc::new(AtomicBool::new(false));
        let throttled = Arc::new(AtomicUsize::new(0));
        let seen: Arc<Mutex<std::collections::HashMap<String, usize>>> = Arc::default();
        let (stop2, throttled2) = (stop.clone(), throttled.clone());
        let accept = std::thread::spawn(move || {
            while !stop2.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((client, _)) => {
                        let (seen, throttled) = (seen.clone(), throttled2.clone());
                        std::thread::spawn(move || {
                            let _ = proxy_one(client, upstream, fail_per_object, &seen, &throttled);
                        });
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        ThrottlingProxy {
            port,
            stop,
            throttled,
            accept: Some(accept),
        }
    }

    /// How many requests were answered `503 SlowDown`.
    pub fn throttled(&self) -> usize {
        self.throttled.load(std::sync::atomic::Ordering::Relaxed)
    }
}

fn proxy_one(
    mut client: std::net::TcpStream,
    upstream: u16,
    fail_per_object: usize,
    seen: &std::sync::Mutex<std::collections::HashMap<String, usize>>,
    throttled: &std::sync::atomic::AtomicUsize,
) -> std::io::Result<()> {
    use std::io::{Read, Write};
    client.set_nonblocking(false)?;
    client.set_read_timeout(Some(Duration::from_secs(30)))?;
    // The request head, then its body (Content-Length).
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        if client.read(&mut byte)? == 0 {
            return Ok(());
        }
        buf.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&buf).to_string();
    let len: usize = head
        .lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; len];
    client.read_exact(&mut body)?;
    let request_line = head.lines().next().unwrap_or_default().to_string();
    let mut parts = request_line.split_whitespace();
    let (method, target) = (parts.next().unwrap_or_default(), parts.next().unwrap_or_default());
    // GetObject: a GET of `/bucket/key` (the SDK adds `?x-id=GetObject`; a listing is
    // `/bucket?list-type=2…`).
    let path = target.split('?').next().unwrap_or_default();
    if method == "GET" && !target.contains("list-type") && path.matches('/').count() >= 2 {
        let mut seen = seen.lock().unwrap_or_else(|p| p.into_inner());
        let n = seen.entry(path.to_string()).or_insert(0);
        if *n < fail_per_object {
            *n += 1;
            throttled.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>";
            write!(
                client,
                "HTTP/1.1 503 Slow Down\r\nContent-Type: application/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{xml}",
                xml.len()
            )?;
            return client.flush();
        }
    }
    // Forward with `Connection: close` and relay the whole answer.
    let mut up = std::net::TcpStream::connect(("127.0.0.1", upstream))?;
    let mut forwarded: String = head
        .trim_end_matches("\r\n\r\n")
        .lines()
        .filter(|l| !l.to_ascii_lowercase().starts_with("connection:"))
        .map(|l| format!("{l}\r\n"))
        .collect();
    forwarded.push_str("Connection: close\r\n\r\n");
    up.write_all(forwarded.as_bytes())?;
    up.write_all(&body)?;
    let mut answer = Vec::new();
    up.read_to_end(&mut answer)?;
    client.write_all(&answer)?;
    client.flush()
}

impl Drop for ThrottlingProxy {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(h) = self.accept.take() {
            let _ = h.join();
        }
    }
}

/// The Chromium binary the browser tests drive: `FROCKET_CHROMIUM`, or Debian's
/// `/usr/bin/chromium` (package `chromium`; `.ci/run` and `make setup-test` install it).
pub fn chromium_bin() -> std::path::PathBuf {
    let bin = std::env::var_os("FROCKET_CHROMIUM").map_or_else(|| "/usr/bin/chromium".into(), std::path::PathBuf::from);
    assert!(
        bin.exists(),
        "{} not found: install Chromium and its driver (apt-get install chromium chromium-driver; .ci/run and `make setup-test` do), or set FROCKET_CHROMIUM",
        bin.display()
    );
    bin
}

/// A `chromedriver` (`FROCKET_CHROMEDRIVER`, or the one on the PATH: Debian's `chromium-driver`)
/// on a free loopback port, for headless Chromium with a fresh profile directory; the driver and
/// the browsers it started are killed on drop. Its log goes to [`Chromedriver::log_path`].
pub struct Chromedriver {
    child: Child,
    /// Its port on 127.0.0.1.
    pub port: u16,
    /// The browser's profile directory (`--user-data-dir`), removed on drop.
    profile: tempfile::TempDir,
}

impl Chromedriver {
    /// Starts chromedriver on a free port and waits (30 s at most) until it accepts connections.
    ///
    /// Panics with a clear message when chromedriver or Chromium is not installed.
    pub fn start() -> Self {
        chromium_bin();
        let profile = tempfile::tempdir().expect("temp dir");
        let port = free_port();
        let bin = std::env::var("FROCKET_CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".to_string());
        let child = Command::new(&bin)
            .arg(format!("--port={port}"))
            .arg(format!("--log-path={}", Self::log_file(port).display()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("{bin} not found ({e}): install it (apt-get install chromium chromium-driver; .ci/run and `make setup-test` do), or set FROCKET_CHROMEDRIVER")
            });
        let mut driver = Chromedriver { child, port, profile };
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = driver.child.try_wait() {
                panic!(
                    "chromedriver exited at start ({status}); see {}",
                    driver.log_path().display()
                );
            }
            assert!(
                Instant::now() < deadline,
                "chromedriver did not listen on port {port} within 30 s; see {}",
                driver.log_path().display()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        driver
    }

    fn log_file(port: u16) -> std::path::PathBuf {
        std::env::temp_dir().join(format!("frocket-chromedriver-{port}.log"))
    }

    /// Where its log goes (kept after the test, for a failure's post-mortem).
    pub fn log_path(&self) -> std::path::PathBuf {
        Self::log_file(self.port)
    }

    /// Its WebDriver endpoint.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// WebDriver capabilities for a new session: headless Chromium in a `width`×`height`
    /// window, without sandbox (tests run as root), GPU, QUIC or any background request of its
    /// own (sync, component updates, first-run pages), with this driver's fresh profile; the
    /// browser's console and network log kept (`goog:loggingPrefs`, read with chromedriver's
    /// `se/log` command); scripts and page loads bounded in time.
    pub fn capabilities(&self, width: u32, height: u32) -> serde_json::Map<String, serde_json::Value> {
        let args = vec![
            "--headless".to_string(),
            "--no-sandbox".to_string(),
            "--disable-gpu".to_string(),
            "--disable-dev-shm-usage".to_string(),
            "--disable-quic".to_string(),
            "--no-first-run".to_string(),
            "--disable-background-networking".to_string(),
            "--disable-component-update".to_string(),
            "--disable-sync".to_string(),
            format!("--user-data-dir={}", self.profile.path().display()),
            format!("--window-size={width},{height}"),
        ];
        let caps = serde_json::json!({
            "goog:chromeOptions": {"binary": chromium_bin().display().to_string(), "args": args},
            "goog:loggingPrefs": {"browser": "ALL"},
            "timeouts": {"script": 30_000, "pageLoad": 60_000},
        });
        caps.as_object().cloned().expect("capabilities are an object")
    }
}

impl Drop for Chromedriver {
    fn drop(&mut self) {
        // The browsers it started would outlive it (a test that panicked never ended its
        // session): stop them first, then the driver.
        let pids: Vec<String> = descendants(self.child.id()).iter().map(|p| p.to_string()).collect();
        if !pids.is_empty() {
            let _ = Command::new("kill")
                .arg("-KILL")
                .args(&pids)
                .stderr(Stdio::null())
                .status();
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
