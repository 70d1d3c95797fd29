//! The serverless path end to end with real parts only: `redis-server`, an S3-compatible
//! server (moto), and `cargo lambda watch` emulating the Lambda control plane and running this
//! workspace's three functions. The register-dataset function registers the golden set from
//! S3; the query-invoker function, fed API Gateway HTTP API (payload 2.0) events, runs every
//! golden query by invoking worker functions asynchronously; bad worker events fail cleanly.

use std::time::Duration;

use aws_sdk_lambda::primitives::Blob;
use frocket_datastore::{AttemptKey, Datastore, TaskStatus};
use frocket_storage::Storage;
use frocket_tests::services::{LambdaEmulator, RedisServer, S3Server};
use frocket_tests::{golden_dir, golden_queries, json_diff};
use serde_json::{json, Value};

/// An API Gateway HTTP API (payload format 2.0) event.
fn http_event(method: &str, path: &str, query: &str, body: Option<&str>) -> Value {
    json!({
        "version": "2.0", "routeKey": "$default", "rawPath": path, "rawQueryString": query,
        "headers": {"host": "api.example.test", "content-type": "application/json"},
        "requestContext": {"accountId": "123456789012", "apiId": "api", "domainName": "api.example.test",
            "domainPrefix": "api", "http": {"method": method, "path": path, "protocol": "HTTP/1.1",
            "sourceIp": "127.0.0.1", "userAgent": "test"}, "requestId": "r", "routeKey": "$default",
            "stage": "$default", "time": "01/Dec/2026:00:00:00 +0000", "timeEpoch": 0},
        "body": body, "isBase64Encoded": false
    })
}

struct Lambdas {
    client: aws_sdk_lambda::Client,
}

impl Lambdas {
    async fn new(endpoint: &str) -> Self {
        let shared = frocket_storage::aws_sdk_config().await;
        let conf = aws_sdk_lambda::config::Builder::from(&shared)
            .retry_config(aws_sdk_lambda::config::retry::RetryConfig::disabled())
            .endpoint_url(endpoint)
            .build();
        Lambdas {
            client: aws_sdk_lambda::Client::from_conf(conf),
        }
    }

    /// Invokes `function` synchronously; returns the function error (if any) and the payload.
    /// (The emulator answers a function error with HTTP 500 and the error as the body, AWS with
    /// 200 and `X-Amz-Function-Error`: both count as a function error here.)
    async fn invoke(&self, function: &str, event: &Value) -> (Option<String>, Value) {
        let out = match self
            .client
            .invoke()
            .function_name(function)
            .payload(Blob::new(event.to_string()))
            .send()
            .await
        {
            Ok(out) => out,
            Err(e) => {
                let body = e.raw_response().and_then(|r| r.body().bytes()).unwrap_or_default();
                match serde_json::from_slice::<Value>(body) {
                    Ok(v) if v.get("errorMessage").is_some() => return (Some(v["errorMessage"].to_string()), v),
                    _ => panic!(
                        "invoking {function}: {}",
                        aws_sdk_lambda::error::DisplayErrorContext(&e)
                    ),
                }
            }
        };
        let payload = out
            .payload()
            .map(|b| serde_json::from_slice(b.as_ref()).unwrap_or(Value::Null))
            .unwrap_or(Value::Null);
        (out.function_error().map(str::to_string), payload)
    }

    /// One HTTP request through the query-invoker function: (status, JSON body).
    async fn http(&self, method: &str, path: &str, query: &str, body: Option<&str>) -> (u16, Value) {
        let (err, resp) = self
            .invoke("query-invoker", &http_event(method, path, query, body))
            .await;
        assert_eq!(err, None, "{method} {path}: {resp}");
        let status = resp["statusCode"].as_u64().unwrap() as u16;
        let text = resp["body"].as_str().unwrap_or("null");
        (
            status,
            serde_json::from_str(text).unwrap_or_else(|e| panic!("{path}: {e}: {text}")),
        )
    }
}

fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

#[test]
fn serverless_path_end_to_end() {
    let redis = RedisServer::start();
    let s3 = S3Server::start();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    for (k, v) in s3.env() {
        std::env::set_var(k, v);
    }
    let storage = Storage::new(Some(format!("http://127.0.0.1:{}", s3.port)));
    rt.block_on(async {
        storage.s3().create_bucket("lake").await.unwrap();
        for p in ["part-00000.parquet", "part-00001.parquet"] {
            let data = std::fs::read(golden_dir().join("data").join(p)).unwrap();
            storage
                .s3()
                .upload(&format!("s3://lake/golden/{p}"), data)
                .await
                .unwrap();
        }
    });

    let port = frocket_tests::services::free_port();
    let mut env = s3.env();
    env.extend([
        ("FROCKET_REDIS_HOST", "127.0.0.1".to_string()),
        ("FROCKET_REDIS_PORT", redis.port.to_string()),
        ("FROCKET_LAMBDA_AWS_ENDPOINT_URL", format!("http://127.0.0.1:{port}")),
        ("FROCKET_INVOKER_LAMBDA_NAME", "worker".to_string()),
        ("FROCKET_INVOKER_RUN_TIMEOUT", "300".to_string()),
        ("FROCKET_LOG_FORMAT", "text".to_string()),
    ]);
    if let Ok(t) = std::env::var("CARGO_TARGET_DIR") {
        env.push(("CARGO_TARGET_DIR", t));
    }
    let emu = LambdaEmulator::start_on(port, &env, 2);
    let lambdas = rt.block_on(Lambdas::new(&emu.endpoint()));

    rt.block_on(async {
        // Register through the register-dataset function.
        let body = json!({"name": "golden", "basepath": "s3://lake/golden/", "groupIdColumn": "visitorid",
            "timestampColumn": "timestamp", "timestampUnit": "ms"});
        let (err, reg) = lambdas.invoke("register-dataset", &body).await;
        assert_eq!(err, None, "{reg}");
        assert_eq!(reg["success"], json!(true), "{reg}");
        assert_eq!(reg["parts"], json!(2));

        // The API through the query-invoker function.
        let (status, health) = lambdas.http("GET", "/health", "", None).await;
        assert_eq!((status, &health["datastore"]), (200, &json!("ok")), "{health}");
        let (status, list) = lambdas.http("GET", "/datasets", "", None).await;
        assert_eq!(status, 200);
        assert_eq!(list["datasets"][0]["name"], json!("golden"));
        // The unit declared in the register-dataset event is stored and reported.
        let (status, schema) = lambdas.http("GET", "/datasets/golden/schema", "", None).await;
        assert_eq!((status, &schema["timestampUnit"]), (200, &json!("ms")), "{schema}");
        let (status, err) = lambdas.http("GET", "/datasets/nope/schema", "", None).await;
        assert_eq!(status, 404, "{err}");
        // The web console is served through the function too (docs/console.md).
        let (err, page) = lambdas.invoke("query-invoker", &http_event("GET", "/", "", None)).await;
        assert_eq!(err, None, "{page}");
        assert_eq!(page["statusCode"], json!(200), "{page}");
        let html = page["body"].as_str().unwrap_or_default();
        assert!(html.contains("<title>Funnel Rocket console</title>"), "{page}");
        let headers = page["headers"].to_string().to_ascii_lowercase();
        assert!(
            headers.contains("text/html") && headers.contains("content-security-policy"),
            "{headers}"
        );
        // The public API's defaults: no admin actions through it (registration goes through
        // the register-dataset function), no internal details in its errors.
        let (status, err) = lambdas
            .http("POST", "/datasets/register", "", Some(&body.to_string()))
            .await;
        assert_eq!(status, 403, "{err}");
        let (status, err) = lambdas
            .http("POST", "/datasets/golden/unregister", "force=true", None)
            .await;
        assert_eq!(status, 403, "{err}");

        for (file, text, expected) in golden_queries() {
            let (status, resp) = lambdas.http("POST", "/datasets/golden/query", "", Some(&text)).await;
            assert_eq!(status, 200, "{file}: {resp}");
            let result = json!({"query": resp["query"], "funnel": resp["funnel"]});
            assert_eq!(json_diff(&result, &expected, "result", 1e-9), None, "{file}");
            let w = &resp["stats"]["worker"];
            assert_eq!(
                w["coldTasks"].as_u64().unwrap() + w["warmTasks"].as_u64().unwrap(),
                2,
                "{w}"
            );
            assert!(
                resp["stats"]["cost"].as_f64().is_some_and(|c| c > 0.0),
                "{}",
                resp["stats"]
            );
            assert!(w["peakMemoryBytes"]["max"].as_f64().is_some_and(|m| m > 0.0), "{w}");
        }

        // A query too large to travel in every event (over QUERY_INLINE_MAX_BYTES; Lambda takes
        // 1 MB per asynchronous event) reaches the workers through the blobstore: 60
        // conditions every user meets answer as the same query without them.
        let aggs = json!([{"column": "event", "type": "countPerValue"}]);
        let conditions: Vec<Value> = (0..60)
            .map(|c| {
                let filters: Vec<Value> = (0..40)
                    .map(|i| json!(["event", "!=", format!("no-such-event-{c:02}-{i:02}")]))
                    .collect();
                json!({"filters": filters, "target": ["count", ">=", 1]})
            })
            .collect();
        let big = json!({"query": {"conditions": conditions, "relation": "or", "aggregations": aggs}}).to_string();
        assert!(big.len() > frocket_protocol::QUERY_INLINE_MAX_BYTES);
        let small = json!({"query": {"aggregations": aggs}}).to_string();
        let (status, a) = lambdas.http("POST", "/datasets/golden/query", "", Some(&big)).await;
        assert_eq!(status, 200, "{a}");
        let (status, b) = lambdas.http("POST", "/datasets/golden/query", "", Some(&small)).await;
        assert_eq!(status, 200, "{b}");
        assert_eq!(a["query"], b["query"]);
        assert!(a["query"]["matchingGroups"].as_u64().is_some_and(|g| g > 0), "{a}");

        // The asynchronous form: start, then poll to the final envelope.
        let (file, text, expected) = golden_queries().into_iter().nth(9).unwrap();
        let q: Value = serde_json::from_str(&text).unwrap();
        let start = json!({"dataset": "golden", "query": q}).to_string();
        let (status, started) = lambdas.http("POST", "/queries", "", Some(&start)).await;
        assert_eq!(status, 202, "{started}");
        let id = started["requestId"].as_str().unwrap().to_string();
        let mut state = Value::Null;
        for _ in 0..600 {
            let (status, s) = lambdas.http("GET", &format!("/queries/{id}"), "", None).await;
            assert_eq!(status, 200, "{s}");
            state = s;
            if state["done"] == json!(true) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let resp = &state["response"];
        assert_eq!(resp["success"], json!(true), "{state}");
        let result = json!({"query": resp["query"], "funnel": resp["funnel"]});
        assert_eq!(json_diff(&result, &expected, "result", 1e-9), None, "{file}");

        // Bad worker events fail cleanly and are reported; the function keeps serving.
        let ds = Datastore::connect(
            &frocket_config::Config::from_vars([
                ("FROCKET_REDIS_HOST", "127.0.0.1".to_string()),
                ("FROCKET_REDIS_PORT", redis.port.to_string()),
            ])
            .unwrap()
            .redis,
            600,
            86400,
        )
        .await
        .unwrap();
        let (err, _) = lambdas.invoke("worker", &json!({"bogus": 1})).await;
        assert!(
            err.is_some_and(|e| e.contains("malformed task request")),
            "a malformed event is a function error"
        );
        let (err, _) = lambdas
            .invoke(
                "worker",
                &json!({"requestId": "1-bad", "task": 0, "attempt": 1, "ttlSecs": 60}),
            )
            .await;
        assert!(err.is_some());
        let st = ds.statuses("1-bad", &[(0, 1)]).await.unwrap();
        let st = st[0].as_ref().expect("the malformed attempt is reported");
        assert_eq!(st.status, TaskStatus::EndedFailed);
        assert!(
            st.message.as_deref().unwrap().contains("malformed task request"),
            "{st:?}"
        );

        use frocket_dataset::Catalog;
        let dataset = ds.get("golden").await.unwrap().unwrap();
        let query = frocket_engine::validate_query("{}", &dataset.query_schema(), 10).unwrap();
        let task = |id: &str, part: &str, dataset_name: &str, invoke_time: f64| frocket_protocol::TaskRequest {
            request_id: id.to_string(),
            task: 0,
            attempt: 1,
            dataset: dataset_name.to_string(),
            registration_id: "gone".to_string(),
            part_path: part.to_string(),
            work: frocket_protocol::TaskWork::Query { query: query.clone() },
            invoke_time,
            ttl_secs: 60,
            deadline: None,
            self_select: None,
        };
        for (id, req, needle) in [
            (
                "1-unknown",
                task("1-unknown", "s3://lake/nope/part-9.parquet", "nope", now()),
                "part-9.parquet",
            ),
            (
                "1-old",
                task("1-old", "s3://lake/golden/part-00000.parquet", "golden", now() - 3600.0),
                "rejected",
            ),
        ] {
            let (err, out) = lambdas.invoke("worker", &serde_json::to_value(&req).unwrap()).await;
            assert_eq!(err, None, "{out}");
            assert_eq!(out["success"], json!(false), "{out}");
            let key = AttemptKey {
                request: id.to_string(),
                task: 0,
                attempt: 1,
            };
            let st = ds.statuses(&key.request, &[(0, 1)]).await.unwrap();
            let st = st[0].as_ref().unwrap();
            assert_eq!(st.status, TaskStatus::EndedFailed, "{id}");
            assert!(st.message.as_deref().unwrap().contains(needle), "{id}: {st:?}");
        }
        let (status, resp) = lambdas.http("GET", "/datasets/golden/empty-query", "", None).await;
        assert_eq!(status, 200, "{resp}");
        assert_eq!(resp["query"]["matchingGroups"], json!(5000));
        // Warm workers served the parts from their disk cache.
        assert!(
            resp["stats"]["worker"]["cache"]["diskCache"].as_u64().unwrap() > 0,
            "{}",
            resp["stats"]
        );
    });
    drop(emu);
}
