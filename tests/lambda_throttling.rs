//! The invoker's Lambda dispatcher under throttling: the real AWS SDK against an HTTP endpoint
//! on loopback that answers as Lambda does when over its concurrency (`429` with
//! `TooManyRequestsException`) — `cargo lambda watch` never throttles, so the fault is
//! injected by the endpoint itself. A throttled invocation is retried with backoff and goes
//! through once Lambda takes it; one throttled on every try fails after the retries, naming
//! the function and the error, and is never retried past them.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use frocket_invoker::LambdaDispatcher;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Every wait in this test ends by this deadline.
const DEADLINE: Duration = Duration::from_secs(60);

/// An endpoint that throttles the first `throttled` invocations, then accepts (`202`, as an
/// asynchronous invocation is), counting the invocations and keeping their paths and bodies.
struct Endpoint {
    url: String,
    calls: Arc<AtomicUsize>,
    seen: Arc<std::sync::Mutex<Vec<(String, String)>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Endpoint {
    async fn start(throttled: usize) -> Endpoint {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind a loopback port");
        let url = format!("http://{}", listener.local_addr().expect("local address"));
        let calls = Arc::new(AtomicUsize::new(0));
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let (c, s) = (calls.clone(), seen.clone());
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (c, s) = (c.clone(), s.clone());
                tokio::spawn(async move {
                    let _ = serve(stream, throttled, c, s).await;
                });
            }
        });
        Endpoint { url, calls, seen, task }
    }
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Answers the requests of one connection (HTTP/1.1, keep-alive) until it closes.
async fn serve(
    mut stream: TcpStream,
    throttled: usize,
    calls: Arc<AtomicUsize>,
    seen: Arc<std::sync::Mutex<Vec<(String, String)>>>,
) -> std::io::Result<()> {
    let mut buf = Vec::new();
    loop {
        // Headers, then a body of Content-Length bytes.
        let head_end = loop {
            if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break at + 4;
            }
            let mut chunk = [0u8; 4096];
            let n = stream.read(&mut chunk).await?;
            if n == 0 {
                return Ok(());
            }
            buf.extend_from_slice(&chunk[..n]);
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
        let path = head.split_whitespace().nth(1).unwrap_or("").to_string();
        let length: usize = head
            .lines()
            .find_map(|l| {
                let (name, value) = l.split_once(':')?;
                name.trim()
                    .eq_ignore_ascii_case("content-length")
                    .then(|| value.trim().parse().ok())?
            })
            .unwrap_or(0);
        while buf.len() < head_end + length {
            let mut chunk = [0u8; 4096];
            let n = stream.read(&mut chunk).await?;
            if n == 0 {
                return Ok(());
            }
            buf.extend_from_slice(&chunk[..n]);
        }
        let body = String::from_utf8_lossy(&buf[head_end..head_end + length]).into_owned();
        buf.drain(..head_end + length);
        let call = calls.fetch_add(1, Ordering::SeqCst);
        seen.lock().expect("calls seen").push((path, body));
        let response = if call < throttled {
            let body = r#"{"Reason":"ReservedFunctionConcurrentInvocationLimitExceeded","Type":"User","message":"Rate Exceeded."}"#;
            format!(
                "HTTP/1.1 429 Too Many Requests\r\nx-amzn-ErrorType: TooManyRequestsException\r\nx-amzn-RequestId: t{call}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            )
        } else {
            format!("HTTP/1.1 202 Accepted\r\nx-amzn-RequestId: a{call}\r\nContent-Length: 0\r\n\r\n")
        };
        stream.write_all(response.as_bytes()).await?;
    }
}

fn aws_test_env() {
    // This binary's only test sets them before any client is built.
    std::env::set_var("AWS_ACCESS_KEY_ID", "test");
    std::env::set_var("AWS_SECRET_ACCESS_KEY", "test");
    std::env::set_var("AWS_REGION", "us-east-1");
    std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttled_invocations_are_retried_with_backoff_then_fail_naming_the_function() {
    aws_test_env();

    // Throttled twice, then taken: one successful invocation, the same event each time.
    let endpoint = Endpoint::start(2).await;
    let dispatcher = LambdaDispatcher::new("frocket-worker", Some(endpoint.url.clone()), 4).await;
    let started = Instant::now();
    let result = tokio::time::timeout(DEADLINE, dispatcher.invoke(r#"{"task":1}"#.to_string()))
        .await
        .expect("the invocation ends before the deadline");
    assert_eq!(result, Ok(()));
    assert_eq!(
        endpoint.calls.load(Ordering::SeqCst),
        3,
        "two throttled tries, then the one taken"
    );
    // Backoff: 100 ms, then 200 ms, before the third try.
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "{:?}",
        started.elapsed()
    );
    let seen = endpoint.seen.lock().expect("calls seen").clone();
    for (path, body) in &seen {
        assert_eq!(path, "/2015-03-31/functions/frocket-worker/invocations");
        assert_eq!(body, r#"{"task":1}"#);
    }

    // Throttled on every try: an error naming the function and Lambda's error after the
    // first try and 6 retries — no more invocations after it.
    let endpoint = Endpoint::start(usize::MAX).await;
    let dispatcher = LambdaDispatcher::new("frocket-worker", Some(endpoint.url.clone()), 4).await;
    let result = tokio::time::timeout(DEADLINE, dispatcher.invoke("{}".to_string()))
        .await
        .expect("the invocation gives up before the deadline");
    let message = result.expect_err("throttled on every try");
    assert!(
        message.contains("frocket-worker") && message.contains("TooManyRequestsException"),
        "{message}"
    );
    let calls = endpoint.calls.load(Ordering::SeqCst);
    assert_eq!(calls, 7, "the first try and 6 retries");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        endpoint.calls.load(Ordering::SeqCst),
        calls,
        "no invocation after giving up"
    );
}
