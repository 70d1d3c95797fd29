//! The web console (crates/frocket-api/console, served by `frocket serve` at `/`) in real
//! headless Chromium, driven over WebDriver (chromedriver): golden funnels drawn with their exact
//! counts, validation errors listed at the paths the API names, shared links that reproduce a
//! result, live progress of a slow query, a browser log without errors, accessible names on
//! every control and a phone layout without horizontal scrolling.
//!
//! One server, one browser session, the cases as steps (a browser start is slow). Every wait
//! polls the page's test hooks (console/README.md) against a deadline. Chromium and chromedriver
//! come from Debian's `chromium` and `chromium-driver` (`.ci/run` and `make setup-test` install
//! them); without them the test fails and says how to install them.

use std::time::{Duration, Instant};

use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder, Locator};
use frocket_tests::services::{Chromedriver, ServeProcess};
use frocket_tests::{golden_dir, golden_queries, json_diff, Frocket};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{json, Value};

/// Page loads and UI updates.
const QUICK: Duration = Duration::from_secs(30);
/// A query run (debug build, a busy machine).
const RUN: Duration = Duration::from_secs(120);
/// Copies of each golden part in the `many` dataset: 200 small tasks on the server's threads.
const COPIES: usize = 100;

/// A query that fails validation twice: an unknown operator in the second step's filter and an
/// unknown aggregation type.
const BAD_QUERY: &str = r#"{"funnel": {"sequence": [{"filter": ["event", "==", "view"]},
                           {"filter": ["event", "~~", "addtocart"]}],
            "endAggregations": [{"column": "device", "type": "countPerBanana"}]}}"#;

/// chromedriver's `se/log` command (outside the W3C standard, so fantoccini has no method for
/// it): the browser's console and network log since the last read.
#[derive(Debug)]
struct BrowserLog;

impl WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(&self, base_url: &url::Url, session_id: Option<&str>) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!("session/{}/se/log", session_id.unwrap_or_default()))
    }

    fn method_and_body(&self, _request_url: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(json!({"type": "browser"}).to_string()))
    }
}

/// Runs `script` in the page (a function body: `return …`) with `args` as `arguments`.
async fn js(c: &Client, script: &str, args: Vec<Value>) -> Value {
    c.execute(script, args)
        .await
        .unwrap_or_else(|e| panic!("script failed ({e}): {script}"))
}

/// Polls `script` until its value passes `ok` and returns it; fails after `within`, naming
/// `what` and the last value (or error).
async fn wait_for(c: &Client, what: &str, within: Duration, script: &str, ok: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + within;
    loop {
        let last = match c.execute(script, vec![]).await {
            Ok(v) if ok(&v) => return v,
            Ok(v) => v.to_string(),
            Err(e) => format!("error: {e}"),
        };
        assert!(
            Instant::now() < deadline,
            "{what}: not within {within:?} (last: {last})"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn click(c: &Client, css: &str) {
    c.find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("find {css}: {e}"))
        .click()
        .await
        .unwrap_or_else(|e| panic!("click {css}: {e}"));
}

/// Loads `text` into the query editor through the page's hook (`frocketConsole.setQuery`).
async fn set_query(c: &Client, text: &str) {
    js(
        c,
        "window.frocketConsole.setQuery(arguments[0]); return null;",
        vec![json!(text)],
    )
    .await;
}

/// Clicks Run and waits until that run ended: `body[data-state]` is `done` or `error` and the
/// page holds a new final response. Returns the state.
async fn run(c: &Client) -> String {
    js(
        c,
        "window.__frocketBefore = window.frocketConsole.lastResponse; return null;",
        vec![],
    )
    .await;
    click(c, "#run-button").await;
    let end = wait_for(
        c,
        "the run to end (body[data-state] done or error)",
        RUN,
        "const s = document.body.dataset.state; \
         return window.frocketConsole.lastResponse !== window.__frocketBefore && (s === 'done' || s === 'error') ? s : null;",
        Value::is_string,
    )
    .await;
    end.as_str().unwrap_or_default().to_string()
}

/// On a page just opened: waits until its run (from a shared link) ended; returns the state.
async fn wait_run_of_link(c: &Client) -> String {
    let end = wait_for(
        c,
        "the shared link's run to end",
        RUN,
        "const s = document.body.dataset.state; return s === 'done' || s === 'error' ? s : null;",
        Value::is_string,
    )
    .await;
    end.as_str().unwrap_or_default().to_string()
}

/// What the page shows as errors (for failure messages).
async fn errors_text(c: &Client) -> String {
    js(c, "return document.getElementById('errors').textContent;", vec![])
        .await
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// The funnel chart: (`data-step`, `data-groups`, `data-rows`) of each `#funnel-chart [data-step]`.
async fn chart(c: &Client) -> Vec<(u64, u64, u64)> {
    let v = js(
        c,
        "return Array.from(document.querySelectorAll('#funnel-chart [data-step]'))\
           .map((e) => [e.dataset.step, e.dataset.groups, e.dataset.rows]);",
        vec![],
    )
    .await;
    v.as_array()
        .unwrap_or_else(|| panic!("the chart's steps are not a list: {v}"))
        .iter()
        .map(|t| {
            let n = |i: usize| {
                t[i].as_str()
                    .and_then(|s| s.parse::<u64>().ok())
                    .unwrap_or_else(|| panic!("a chart step's attribute is not an integer: {t}"))
            };
            (n(0), n(1), n(2))
        })
        .collect()
}

/// The chart a golden result should give: (step, matchingGroups, matchingGroupRows).
fn expected_chart(expected: &Value) -> Vec<(u64, u64, u64)> {
    expected["funnel"]["sequence"]
        .as_array()
        .unwrap_or_else(|| panic!("no funnel sequence in {expected}"))
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let n = |k: &str| s[k].as_u64().unwrap_or_else(|| panic!("no {k} in {s}"));
            (i as u64, n("matchingGroups"), n("matchingGroupRows"))
        })
        .collect()
}

/// `query` and `funnel` of the final response shown in `#raw-json`.
async fn raw_result(c: &Client) -> Value {
    let text = js(c, "return document.getElementById('raw-json').textContent;", vec![]).await;
    let raw: Value = serde_json::from_str(text.as_str().unwrap_or_default())
        .unwrap_or_else(|e| panic!("#raw-json is not JSON ({e}): {text}"));
    json!({"query": raw["query"], "funnel": raw["funnel"]})
}

/// `encodeURIComponent`: everything but `A-Z a-z 0-9 - _ . ! ~ * ' ( )` as `%XX` of its UTF-8.
fn encode_uri_component(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// `decodeURIComponent` of a well-formed value.
fn decode_uri_component(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Some(v) = std::str::from_utf8(&b[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8(out).expect("a URL-encoded UTF-8 value")
}

/// A directory of `copies` hard links (copies across file systems) of each golden part, under
/// distinct names: the same rows many times over, many small tasks.
fn many_parts(copies: usize) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut parts: Vec<_> = std::fs::read_dir(golden_dir().join("data"))
        .expect("the golden data")
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "parquet"))
        .collect();
    parts.sort();
    for copy in 0..copies {
        for (k, p) in parts.iter().enumerate() {
            let to = dir.path().join(format!("part-{:05}.parquet", copy * parts.len() + k));
            std::fs::hard_link(p, &to)
                .or_else(|_| std::fs::copy(p, &to).map(|_| ()))
                .unwrap_or_else(|e| panic!("link {} to {}: {e}", p.display(), to.display()));
        }
    }
    dir
}

/// A WebDriver session on `driver` (chromedriver may need a moment before it takes one).
async fn session(driver: &Chromedriver) -> Client {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let mut builder = ClientBuilder::new(HttpConnector::new());
        builder.capabilities(driver.capabilities(1280, 900));
        match builder.connect(&driver.url()).await {
            Ok(c) => return c,
            Err(e) => {
                assert!(
                    Instant::now() < deadline,
                    "chromedriver gave no session within 60 s: {e} (log: {})",
                    driver.log_path().display()
                );
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }
}

/// Every `input, select, textarea, button` without an accessible name: no `aria-label`, no
/// `aria-labelledby` naming an element with text, no label (`<label for>` or a wrapping one)
/// with text, and for a button no text of its own.
async fn unnamed_controls(c: &Client) -> Vec<Value> {
    let v = js(
        c,
        "const t = (s) => (s || '').replace(/\\s+/g, ' ').trim(); \
         const named = (el) => { \
           if (t(el.getAttribute('aria-label'))) return true; \
           const by = el.getAttribute('aria-labelledby'); \
           if (by && by.split(/\\s+/).some((id) => { const r = document.getElementById(id); return r && t(r.textContent); })) return true; \
           if (el.labels && Array.from(el.labels).some((l) => t(l.textContent))) return true; \
           return el.tagName === 'BUTTON' && !!t(el.textContent); \
         }; \
         return Array.from(document.querySelectorAll('input, select, textarea, button')) \
           .filter((el) => el.type !== 'hidden' && !named(el)) \
           .map((el) => el.outerHTML.slice(0, 200));",
        vec![],
    )
    .await;
    v.as_array().cloned().unwrap_or_else(|| panic!("not a list: {v}"))
}

async fn assert_all_named(c: &Client, when: &str) {
    let count = js(
        c,
        "return document.querySelectorAll('input, select, textarea, button').length;",
        vec![],
    )
    .await;
    let unnamed = unnamed_controls(c).await;
    assert!(
        unnamed.is_empty(),
        "{when}: {} of {count} controls have no accessible name: {unnamed:#?}",
        unnamed.len()
    );
}

/// Opens the console at `base` and waits until it listed the datasets and selected `golden`.
async fn open(c: &Client, base: &str) {
    c.goto(base).await.unwrap_or_else(|e| panic!("open {base}: {e}"));
    wait_for(
        c,
        "the console to be ready (body[data-ready])",
        QUICK,
        "return document.body.dataset.ready === 'true';",
        |v| v == &json!(true),
    )
    .await;
    let selected = js(c, "return document.getElementById('dataset-select').value;", vec![]).await;
    assert_eq!(selected, json!("golden"), "the first dataset is selected");
    wait_for(
        c,
        "the API health dot",
        QUICK,
        "return document.getElementById('api-health').dataset.status;",
        |v| v == &json!("ok"),
    )
    .await;
}

/// Case 1: each golden query with a funnel, run from the editor, draws its exact counts, and the
/// raw response is the golden answer.
async fn golden_funnels(c: &Client) {
    let funnels: Vec<(String, String, Value)> = golden_queries()
        .into_iter()
        .filter(|(_, _, expected)| expected["funnel"].is_object())
        .collect();
    assert!(funnels.len() >= 8, "golden funnel queries: {}", funnels.len());
    for (file, text, expected) in &funnels {
        set_query(c, text).await;
        let state = run(c).await;
        assert_eq!(state, "done", "{file}: the run failed: {}", errors_text(c).await);
        assert_eq!(
            chart(c).await,
            expected_chart(expected),
            "{file}: the funnel chart (step, groups, rows)"
        );
        let got = raw_result(c).await;
        assert_eq!(json_diff(&got, expected, "result", 1e-9), None, "{file}: #raw-json");
        let stage = js(c, "return document.getElementById('progress').dataset.stage;", vec![]).await;
        assert_eq!(stage, json!("DONE"), "{file}: #progress[data-stage]");
    }
}

/// Case 7: a screenshot of the page after a funnel query, in the temp dir (the repository keeps
/// a hand-picked one in docs/).
async fn screenshot(c: &Client) {
    js(
        c,
        "document.getElementById('results').scrollIntoView(); return null;",
        vec![],
    )
    .await;
    let png = c.screenshot().await.unwrap_or_else(|e| panic!("screenshot: {e}"));
    assert!(
        png.starts_with(b"\x89PNG\r\n\x1a\n"),
        "the screenshot is not a PNG ({} bytes)",
        png.len()
    );
    // A blank 1280×900 page compresses to a few KB; the results page is far larger.
    assert!(png.len() > 20_000, "the screenshot looks blank: {} bytes", png.len());
    let path = std::env::temp_dir().join("frocket-console-test.png");
    std::fs::write(&path, &png).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    eprintln!("console screenshot: {}", path.display());
}

/// Case 6: accessible names, and no horizontal scrolling at a phone's width.
/// WebDriver's codes of special keys (W3C WebDriver, "Keyboard actions").
const TAB: &str = "\u{E004}";
const ENTER: &str = "\u{E007}";
const CONTROL: &str = "\u{E009}";
/// Releases the modifiers pressed so far.
const RELEASE: &str = "\u{E000}";

async fn accessibility(c: &Client) {
    assert_all_named(c, "with a funnel result").await;
    // Keyboard only: Tab from the top of the page reaches Run, Enter on it runs the query,
    // Ctrl+Enter in the editor runs it too.
    js(
        c,
        "document.activeElement && document.activeElement.blur(); window.scrollTo(0, 0); return null;",
        vec![],
    )
    .await;
    let mut reached = false;
    for _ in 0..200 {
        let active = c
            .active_element()
            .await
            .unwrap_or_else(|e| panic!("the focused element: {e}"));
        active
            .send_keys(TAB)
            .await
            .unwrap_or_else(|e| panic!("pressing Tab: {e}"));
        if js(c, "return document.activeElement && document.activeElement.id;", vec![]).await == json!("run-button") {
            reached = true;
            break;
        }
    }
    assert!(reached, "Tab never reached the Run button");
    js(
        c,
        "window.__frocketBefore = window.frocketConsole.lastResponse; return null;",
        vec![],
    )
    .await;
    let active = c
        .active_element()
        .await
        .unwrap_or_else(|e| panic!("the focused element: {e}"));
    active
        .send_keys(ENTER)
        .await
        .unwrap_or_else(|e| panic!("pressing Enter: {e}"));
    wait_for(
        c,
        "Enter on the focused Run button to run the query",
        RUN,
        "return window.frocketConsole.lastResponse !== window.__frocketBefore && document.body.dataset.state === 'done';",
        |v| v == &json!(true),
    )
    .await;
    js(
        c,
        "window.__frocketBefore = window.frocketConsole.lastResponse; return null;",
        vec![],
    )
    .await;
    let editor = c
        .find(Locator::Css("#query-json"))
        .await
        .unwrap_or_else(|e| panic!("#query-json: {e}"));
    let chord = format!("{CONTROL}{ENTER}{RELEASE}");
    editor
        .send_keys(&chord)
        .await
        .unwrap_or_else(|e| panic!("Ctrl+Enter: {e}"));
    wait_for(
        c,
        "Ctrl+Enter in the editor to run the query",
        RUN,
        "return window.frocketConsole.lastResponse !== window.__frocketBefore && document.body.dataset.state === 'done';",
        |v| v == &json!(true),
    )
    .await;
    c.set_window_size(375, 800)
        .await
        .unwrap_or_else(|e| panic!("resize to 375×800: {e}"));
    wait_for(
        c,
        "the window to be 375 px wide (phone layout below 640 px)",
        QUICK,
        "return window.innerWidth;",
        |v| v.as_u64().is_some_and(|w| w < 640),
    )
    .await;
    let fit = js(
        c,
        "const w = window.innerWidth; \
         const wide = Array.from(document.querySelectorAll('body *')) \
           .filter((e) => { const r = e.getBoundingClientRect(); return r.width > 0 && r.right > w + 1; }) \
           .slice(0, 10) \
           .map((e) => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') \
                + (typeof e.className === 'string' && e.className.trim() ? '.' + e.className.trim().split(/\\s+/).join('.') : '')); \
         return {scrollWidth: document.documentElement.scrollWidth, innerWidth: w, wide: wide};",
        vec![],
    )
    .await;
    let (scroll, inner) = (fit["scrollWidth"].as_u64(), fit["innerWidth"].as_u64());
    assert!(
        scroll.is_some() && inner.is_some() && scroll <= inner,
        "the page scrolls sideways at a phone's width: {fit}"
    );
    assert_all_named(c, "at a phone's width").await;
    c.set_window_size(1280, 900)
        .await
        .unwrap_or_else(|e| panic!("resize to 1280×900: {e}"));
    wait_for(
        c,
        "the window to be wide again",
        QUICK,
        "return window.innerWidth;",
        |v| v.as_u64().is_some_and(|w| w > 960),
    )
    .await;
}

/// Case 2: a query failing validation lists each error at the path the API names for it.
async fn errors_at_their_paths(c: &Client, serve: &ServeProcess) {
    let r = serve.request("POST", "/datasets/golden/query", BAD_QUERY);
    assert_eq!(r.status, 400, "the bad query: {}", r.body);
    let api: Vec<String> = r.json()["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("no errors list in the 400 answer: {}", r.body))
        .iter()
        .map(|e| {
            let p = e["path"]
                .as_str()
                .unwrap_or_else(|| panic!("an error without a path: {e}"));
            // The console names the document root `(root)`, as errorMessage does.
            (if p.is_empty() { "(root)" } else { p }).to_string()
        })
        .collect();
    assert!(
        api.iter().any(|p| p == "funnel.sequence[1].filter") && api.iter().any(|p| p.ends_with(".type")),
        "the bad query should fail on its operator and its aggregation type: {api:?}"
    );

    set_query(c, BAD_QUERY).await;
    let state = run(c).await;
    assert_eq!(state, "error", "the bad query's run");
    let body_state = js(c, "return document.body.dataset.state;", vec![]).await;
    assert_eq!(body_state, json!("error"), "body[data-state]");
    let shown = js(
        c,
        "return Array.from(document.querySelectorAll('#errors li[data-path]')).map((li) => li.dataset.path);",
        vec![],
    )
    .await;
    assert_eq!(shown, json!(api), "#errors li[data-path] against the API's errors");
    let general = js(
        c,
        "return document.querySelectorAll('#errors li[data-kind=\"error\"]').length;",
        vec![],
    )
    .await;
    assert_eq!(
        general,
        json!(0),
        "a validation failure is not a general error: {}",
        errors_text(c).await
    );
    let marks = js(
        c,
        "return document.querySelectorAll('#editor-backdrop mark').length;",
        vec![],
    )
    .await;
    assert!(
        marks.as_u64().is_some_and(|n| n >= 1),
        "no error range marked in the editor"
    );
    let invalid = js(
        c,
        "return document.querySelectorAll('#funnel-form [data-path=\"funnel.sequence[1].filter\"] [aria-invalid=\"true\"]').length;",
        vec![],
    )
    .await;
    assert!(
        invalid.as_u64().is_some_and(|n| n >= 1),
        "the form's controls of funnel.sequence[1].filter are not marked invalid"
    );
    assert_all_named(c, "with validation errors shown").await;
}

/// Case 3: a shared link opens, runs and shows the golden answer; Copy link gives a link that
/// does the same.
async fn shared_links(c: &Client, base: &str) {
    let (file, text, expected) = golden_queries()
        .into_iter()
        .find(|(f, _, _)| f.starts_with("g09"))
        .expect("golden query g09");
    let query: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{file}: {e}"));
    let compact = serde_json::to_string(&query).expect("JSON");
    let link = format!("{base}#dataset=golden&query={}", encode_uri_component(&compact));
    let want = expected_chart(&expected);

    c.goto("about:blank").await.expect("open about:blank");
    c.goto(&link).await.unwrap_or_else(|e| panic!("open {link}: {e}"));
    let state = wait_run_of_link(c).await;
    assert_eq!(state, "done", "{file} by link: {}", errors_text(c).await);
    assert_eq!(chart(c).await, want, "{file} by link: the funnel chart");
    assert_eq!(
        json_diff(&raw_result(c).await, &expected, "result", 1e-9),
        None,
        "{file} by link: #raw-json"
    );

    click(c, "#copy-link").await;
    let copied = wait_for(
        c,
        "#copy-output to hold the link",
        QUICK,
        "return document.getElementById('copy-output').value;",
        |v| v.as_str().is_some_and(|s| !s.is_empty()),
    )
    .await;
    let copied = copied.as_str().unwrap_or_default().to_string();
    let prefix = format!("{base}#dataset=golden&query=");
    let encoded = copied
        .strip_prefix(&prefix)
        .unwrap_or_else(|| panic!("the copied link {copied:?} does not start with {prefix:?}"));
    let decoded: Value = serde_json::from_str(&decode_uri_component(encoded))
        .unwrap_or_else(|e| panic!("the copied link's query is not JSON ({e}): {copied}"));
    assert_eq!(decoded, query, "the copied link's query");

    c.goto("about:blank").await.expect("open about:blank");
    c.goto(&copied).await.unwrap_or_else(|e| panic!("open {copied}: {e}"));
    let state = wait_run_of_link(c).await;
    assert_eq!(state, "done", "the copied link: {}", errors_text(c).await);
    assert_eq!(chart(c).await, want, "the copied link: the funnel chart");
}

fn attr(v: &Value, k: &str) -> Option<u64> {
    v[k].as_str().and_then(|s| s.parse().ok())
}

/// Case 4: while a query over many parts runs, `#progress` shows tasks done strictly between 0
/// and all of them, with the rows scanned so far; at the end, all of them and the rows.
async fn progress_of_a_slow_query(c: &Client) {
    let parts = 2 * COPIES as u64;
    js(
        c,
        "const s = document.getElementById('dataset-select'); s.value = 'many'; \
         s.dispatchEvent(new Event('change')); return s.value;",
        vec![],
    )
    .await;
    wait_for(
        c,
        "the `many` dataset to be selected and its parts listed",
        QUICK,
        "return document.getElementById('parts').textContent;",
        |v| v.as_str().is_some_and(|t| t.contains(&format!("{parts} parts"))),
    )
    .await;
    let (file, text, _) = golden_queries()
        .into_iter()
        .find(|(f, _, _)| f.starts_with("g07"))
        .expect("golden query g07");
    set_query(c, &text).await;

    js(
        c,
        "window.__frocketBefore = window.frocketConsole.lastResponse; return null;",
        vec![],
    )
    .await;
    click(c, "#run-button").await;
    let deadline = Instant::now() + RUN;
    let (mut polls, mut mid, mut mid_rows) = (0usize, false, false);
    let mut seen: Vec<String> = vec![];
    let end = loop {
        let v = js(
            c,
            "const d = document.getElementById('progress').dataset, s = document.body.dataset.state; \
             return {state: s, done: d.done ?? null, total: d.total ?? null, rows: d.rows ?? null, stage: d.stage ?? null, \
                     ended: window.frocketConsole.lastResponse !== window.__frocketBefore && (s === 'done' || s === 'error')};",
            vec![],
        )
        .await;
        polls += 1;
        let line = v.to_string();
        if seen.last() != Some(&line) && seen.len() < 40 {
            seen.push(line);
        }
        if v["ended"] == json!(true) {
            break v;
        }
        if v["state"] == json!("running") {
            if let (Some(done), Some(total)) = (attr(&v, "done"), attr(&v, "total")) {
                if 0 < done && done < total {
                    mid = true;
                    mid_rows |= attr(&v, "rows").is_some_and(|r| r > 0);
                }
            }
        }
        assert!(
            Instant::now() < deadline,
            "{file} over {parts} parts did not end within {RUN:?}; seen: {seen:#?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert_eq!(
        end["state"],
        json!("done"),
        "{file} over {parts} parts: {}",
        errors_text(c).await
    );
    assert!(
        mid,
        "#progress never showed 0 < data-done < data-total while running ({polls} polls): {seen:#?}"
    );
    assert!(
        mid_rows,
        "#progress[data-rows] (the rows of the NDJSON progress lines) was never > 0 while running: {seen:#?}"
    );
    assert_eq!(attr(&end, "total"), Some(parts), "the final data-total: {end}");
    assert_eq!(attr(&end, "done"), Some(parts), "the final data-done: {end}");
    assert!(attr(&end, "rows").is_some_and(|r| r > 0), "the final data-rows: {end}");
    assert_eq!(end["stage"], json!("DONE"), "the final data-stage: {end}");
}

/// Case 5: the browser logged no error over all the steps, but the network log of the bad
/// query's deliberate 400.
async fn no_errors_in_the_browser_log(c: &Client) {
    let v = c
        .issue_cmd(BrowserLog)
        .await
        .unwrap_or_else(|e| panic!("read the browser log (chromedriver se/log): {e}"));
    // fantoccini answers the command's `value`; accept the whole answer too.
    let list = v.get("value").cloned().unwrap_or(v);
    let entries = list
        .as_array()
        .unwrap_or_else(|| panic!("the browser log is not a list: {list}"));
    let severe: Vec<&Value> = entries
        .iter()
        .filter(|e| e["level"] == json!("SEVERE"))
        .filter(|e| !e["message"].as_str().unwrap_or_default().contains("status of 400"))
        .collect();
    assert!(severe.is_empty(), "errors in the browser log: {severe:#?}");
    let network_400 = entries
        .iter()
        .filter(|e| e["message"].as_str().unwrap_or_default().contains("status of 400"))
        .count();
    assert!(
        network_400 >= 1,
        "the log should hold the bad query's 400 (is goog:loggingPrefs honoured?): {entries:#?}"
    );
}

#[test]
fn the_console_in_a_real_browser() {
    let f = Frocket::new();
    let golden = golden_dir().join("data").display().to_string();
    f.ok(&["register", "golden", &golden, "visitorid", "timestamp"]);
    let many = many_parts(COPIES);
    let many_path = many.path().display().to_string();
    f.ok(&[
        "register",
        "many",
        &many_path,
        "visitorid",
        "timestamp",
        "--no-validate-uniques",
    ]);
    let serve_log = std::env::temp_dir().join("frocket-console-test-serve.log");
    let serve = ServeProcess::start(
        &[("FROCKET_HOME", f.home.path().display().to_string())],
        Some(serve_log.as_path()),
    );
    let base = format!("http://127.0.0.1:{}/", serve.port);
    let driver = Chromedriver::start();
    eprintln!(
        "frocket serve at {base} (log {}), chromedriver log {}",
        serve_log.display(),
        driver.log_path().display()
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    rt.block_on(async {
        let c = session(&driver).await;
        open(&c, &base).await;
        golden_funnels(&c).await;
        screenshot(&c).await;
        accessibility(&c).await;
        errors_at_their_paths(&c, &serve).await;
        shared_links(&c, &base).await;
        progress_of_a_slow_query(&c).await;
        no_errors_in_the_browser_log(&c).await;
        c.close().await.expect("end the WebDriver session");
    });
}
