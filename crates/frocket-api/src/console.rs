//! The web console: three static files (`console/`) built into the binary and served at `/`,
//! `/console/console.css` and `/console/console.js`. The page calls only the public API, by
//! relative URLs, so it works wherever the router is served — `frocket serve` or the
//! query-invoker Lambda behind API Gateway (see docs/console.md).
//!
//! Every answer carries a Content-Security-Policy that allows nothing but this origin's own
//! files and API (plus the page's one inline script, by its hash, and its inline SVG icon).

use std::sync::OnceLock;

use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use sha2::Digest as _;

/// The page.
pub const INDEX_HTML: &str = include_str!("../console/index.html");
/// Its stylesheet.
pub const CONSOLE_CSS: &str = include_str!("../console/console.css");
/// Its script.
pub const CONSOLE_JS: &str = include_str!("../console/console.js");

/// The page's inline `<script>` (it adds a stage root's missing trailing slash before anything
/// else loads), or "" when there is none.
fn inline_script(html: &str) -> &str {
    let Some(start) = html.find("<script>").map(|i| i + "<script>".len()) else {
        return "";
    };
    html[start..]
        .find("</script>")
        .map_or("", |end| &html[start..start + end])
}

/// The Content-Security-Policy of the console's answers.
///
/// ```
/// let csp = frocket_api::console::content_security_policy();
/// assert!(csp.starts_with("default-src 'none'; script-src 'self' 'sha256-"));
/// ```
pub fn content_security_policy() -> &'static str {
    static CSP: OnceLock<String> = OnceLock::new();
    CSP.get_or_init(|| {
        let hash = base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(inline_script(INDEX_HTML)));
        format!(
            "default-src 'none'; script-src 'self' 'sha256-{hash}'; style-src 'self'; img-src 'self' data:; \
             connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
        )
    })
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    let mut resp = ([(header::CONTENT_TYPE, content_type)], body).into_response();
    let h = resp.headers_mut();
    // Rebuilt binaries serve new files under the same names: revalidate every time.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if let Ok(v) = HeaderValue::from_str(content_security_policy()) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    resp
}

/// `GET /`: the page.
pub async fn index() -> Response {
    asset("text/html; charset=utf-8", INDEX_HTML)
}

/// `GET /console/console.css`.
pub async fn css() -> Response {
    asset("text/css; charset=utf-8", CONSOLE_CSS)
}

/// `GET /console/console.js`.
pub async fn js() -> Response {
    asset("text/javascript; charset=utf-8", CONSOLE_JS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_links_the_served_assets_and_has_one_inline_script() {
        assert!(INDEX_HTML.contains(r#"href="console/console.css""#));
        assert!(INDEX_HTML.contains(r#"src="console/console.js""#));
        assert_eq!(
            INDEX_HTML.matches("<script>").count(),
            1,
            "the CSP allows one inline script by hash"
        );
        assert!(inline_script(INDEX_HTML).contains("replaceState"));
    }
}
