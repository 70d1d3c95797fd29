//! S3 (and S3-compatible stores): listing with pagination, downloads.

use std::path::Path;

use crate::PartRef;
use aws_config::retry::RetryConfig;
use aws_config::BehaviorVersion;
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::Client;
use aws_smithy_http_client::tls;
use tokio::io::AsyncWriteExt;
use tokio::sync::OnceCell;

use crate::StorageError;

/// The AWS SDK configuration every client of this project uses: credentials and region from
/// the standard AWS environment (us-east-1 when no region is set), and a rustls HTTP client.
pub async fn aws_sdk_config() -> aws_config::SdkConfig {
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(tls::rustls_provider::CryptoMode::Ring))
        .build_https();
    let mut loader = aws_config::defaults(BehaviorVersion::latest()).http_client(http);
    if std::env::var_os("AWS_REGION").is_none() && std::env::var_os("AWS_DEFAULT_REGION").is_none() {
        loader = loader.region(aws_config::Region::new("us-east-1"));
    }
    loader.load().await
}

/// Attempts per S3 request (the SDK's standard mode: exponential backoff with jitter between
/// attempts, for throttling, 5xx answers, timeouts and connection errors).
pub const S3_MAX_ATTEMPTS: u32 = 5;

fn retry_config() -> RetryConfig {
    RetryConfig::standard()
        .with_max_attempts(S3_MAX_ATTEMPTS)
        .with_initial_backoff(std::time::Duration::from_millis(100))
        .with_max_backoff(std::time::Duration::from_secs(5))
}

/// What a request was doing, for its error.
#[derive(Clone, Copy)]
enum Op {
    List,
    Fetch,
}

/// An S3 failure (after the SDK's retries) as a [`StorageError`]: 403 is [`StorageError::Denied`],
/// throttling, 5xx, timeouts and connection failures are [`StorageError::Unavailable`], the
/// rest (a missing bucket or key…) the operation's own error.
fn classify<E>(e: SdkError<E, HttpResponse>, path: &str, op: Op) -> StorageError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let status = match &e {
        SdkError::ServiceError(_) => e.raw_response().map(|r| r.status().as_u16()),
        _ => None,
    };
    let code = e.code().map(str::to_string);
    let transient = match &e {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => true,
        _ => {
            status.is_some_and(|s| s >= 500 || s == 429)
                || matches!(
                    code.as_deref(),
                    Some("SlowDown" | "Throttling" | "ThrottlingException" | "RequestTimeout")
                )
        }
    };
    let message = aws_sdk_s3::error::DisplayErrorContext(e).to_string();
    let path = path.to_string();
    if transient {
        StorageError::Unavailable { path, message }
    } else if status == Some(403) || code.as_deref() == Some("AccessDenied") {
        StorageError::Denied { path, message }
    } else {
        match op {
            Op::List => StorageError::List { path, message },
            Op::Fetch => StorageError::Fetch { path, message },
        }
    }
}

/// Splits `s3://bucket/key` into bucket and key.
///
/// ```
/// assert_eq!(frocket_storage::parse_s3_url("s3://b/a/c.parquet").unwrap(), ("b".to_string(), "a/c.parquet".to_string()));
/// assert!(frocket_storage::parse_s3_url("s3:///x").is_err());
/// ```
pub fn parse_s3_url(url: &str) -> Result<(String, String), StorageError> {
    let rest = url
        .strip_prefix("s3://")
        .ok_or_else(|| StorageError::Invalid(format!("'{url}' is not an s3:// URL")))?;
    let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.is_empty() {
        return Err(StorageError::Invalid(format!("'{url}' has no bucket")));
    }
    Ok((bucket.to_string(), key.to_string()))
}

/// An S3 client, created on first use.
#[derive(Debug, Clone)]
pub struct S3Store {
    endpoint: Option<String>,
    client: std::sync::Arc<OnceCell<Client>>,
}

impl S3Store {
    /// A store using `endpoint` when set (path-style addressing), else AWS.
    pub fn new(endpoint: Option<String>) -> Self {
        S3Store {
            endpoint,
            client: std::sync::Arc::new(OnceCell::new()),
        }
    }

    /// The client (credentials and region from the standard AWS environment).
    pub async fn client(&self) -> &Client {
        self.client
            .get_or_init(|| async {
                let shared = aws_sdk_config().await;
                let mut b = aws_sdk_s3::config::Builder::from(&shared)
                    .force_path_style(true)
                    .retry_config(retry_config());
                if let Some(e) = &self.endpoint {
                    b = b.endpoint_url(e);
                }
                Client::from_conf(b.build())
            })
            .await
    }

    /// Objects directly under `basepath` matching `pattern`, following continuation tokens.
    pub async fn list(&self, basepath: &str, pattern: &glob::Pattern) -> Result<Vec<PartRef>, StorageError> {
        let (bucket, mut prefix) = parse_s3_url(basepath)?;
        if !prefix.is_empty() && !prefix.ends_with('/') {
            prefix.push('/');
        }
        let client = self.client().await;
        let mut token: Option<String> = None;
        let mut out = Vec::new();
        loop {
            let resp = client
                .list_objects_v2()
                .bucket(&bucket)
                .prefix(&prefix)
                .delimiter("/")
                .set_continuation_token(token.take())
                .send()
                .await
                .map_err(|e| classify(e, basepath, Op::List))?;
            for o in resp.contents() {
                let Some(key) = o.key() else { continue };
                let name = key.rsplit('/').next().unwrap_or(key);
                if pattern.matches(name) {
                    out.push(PartRef {
                        path: format!("s3://{bucket}/{key}"),
                        size: o.size().unwrap_or(0).max(0) as u64,
                    });
                }
            }
            match (resp.is_truncated(), resp.next_continuation_token()) {
                (Some(true), Some(t)) => token = Some(t.to_string()),
                _ => break,
            }
        }
        out.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(out)
    }

    /// Downloads `url` to `dest`.
    pub async fn download(&self, url: &str, dest: &Path) -> Result<(), StorageError> {
        let (bucket, key) = parse_s3_url(url)?;
        let err = |m: String| StorageError::Fetch {
            path: url.to_string(),
            message: m,
        };
        let resp = self
            .client()
            .await
            .get_object()
            .bucket(&bucket)
            .key(&key)
            .send()
            .await
            .map_err(|e| classify(e, url, Op::Fetch))?;
        let mut body = resp.body;
        let mut f = tokio::fs::File::create(dest)
            .await
            .map_err(|e| err(format!("{}: {e}", dest.display())))?;
        // A body cut off mid-way (connection reset, timeout) is a transient failure.
        let cut = |e: aws_sdk_s3::primitives::ByteStreamError| StorageError::Unavailable {
            path: url.to_string(),
            message: format!("download interrupted: {e}"),
        };
        while let Some(chunk) = body.try_next().await.map_err(cut)? {
            f.write_all(&chunk)
                .await
                .map_err(|e| err(format!("{}: {e}", dest.display())))?;
        }
        f.flush().await.map_err(|e| err(e.to_string()))?;
        Ok(())
    }

    /// The bytes of `url` in `range` (`bytes=start-end` inclusive on the wire), all of them.
    pub async fn get_range(&self, url: &str, range: std::ops::Range<u64>) -> Result<Vec<u8>, StorageError> {
        let header = format!("bytes={}-{}", range.start, range.end.saturating_sub(1));
        let (bytes, _) = self.get_with_range(url, header).await?;
        let want = (range.end - range.start) as usize;
        if bytes.len() != want {
            return Err(StorageError::Fetch {
                path: url.to_string(),
                message: format!("asked for {want} bytes at {}, got {}", range.start, bytes.len()),
            });
        }
        Ok(bytes)
    }

    /// The last `n` bytes of `url` (all of it when shorter), and the object's size.
    pub async fn get_tail(&self, url: &str, n: u64) -> Result<(Vec<u8>, u64), StorageError> {
        let (bytes, total) = self.get_with_range(url, format!("bytes=-{n}")).await?;
        let size = total.unwrap_or(bytes.len() as u64);
        Ok((bytes, size))
    }

    /// A GET with a `Range` header: the body, and the object's size from `Content-Range`.
    async fn get_with_range(&self, url: &str, range: String) -> Result<(Vec<u8>, Option<u64>), StorageError> {
        let (bucket, key) = parse_s3_url(url)?;
        let resp = self
            .client()
            .await
            .get_object()
            .bucket(&bucket)
            .key(&key)
            .range(range)
            .send()
            .await
            .map_err(|e| classify(e, url, Op::Fetch))?;
        // `Content-Range: bytes 0-99/1234`.
        let total = resp
            .content_range()
            .and_then(|c| c.rsplit('/').next())
            .and_then(|t| t.parse::<u64>().ok());
        let body = resp.body.collect().await.map_err(|e| StorageError::Unavailable {
            path: url.to_string(),
            message: format!("download interrupted: {e}"),
        })?;
        Ok((body.into_bytes().to_vec(), total))
    }

    /// Uploads bytes to `url` (tools and tests).
    pub async fn upload(&self, url: &str, data: Vec<u8>) -> Result<(), StorageError> {
        let (bucket, key) = parse_s3_url(url)?;
        self.client()
            .await
            .put_object()
            .bucket(&bucket)
            .key(&key)
            .body(data.into())
            .send()
            .await
            .map_err(|e| StorageError::Fetch {
                path: url.to_string(),
                message: aws_sdk_s3::error::DisplayErrorContext(e).to_string(),
            })?;
        Ok(())
    }

    /// Creates a bucket (tools and tests).
    pub async fn create_bucket(&self, bucket: &str) -> Result<(), StorageError> {
        self.client()
            .await
            .create_bucket()
            .bucket(bucket)
            .send()
            .await
            .map_err(|e| {
                StorageError::Invalid(format!(
                    "cannot create bucket '{bucket}': {}",
                    aws_sdk_s3::error::DisplayErrorContext(e)
                ))
            })?;
        Ok(())
    }
}
