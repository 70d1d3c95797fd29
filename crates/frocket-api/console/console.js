/* Funnel Rocket web console.
 *
 * A plain script (ES2020, no framework, no build): it talks only to the public HTTP API
 * (docs/http-api.md) with paths relative to the page, so it works at / and under an API
 * Gateway stage prefix (/prod/). Sections:
 *   1. helpers (DOM, numbers, durations)
 *   2. a JSON parser that keeps source positions and number literals as written
 *   3. API calls and dataset / schema / parts panels
 *   4. the funnel form <-> JSON sync
 *   5. running a query (NDJSON stream) and its progress
 *   6. validation errors (parsed from errorMessage) at their JSON paths
 *   7. results: funnel chart, conversion times, aggregations, stats, raw JSON
 *   8. share: URL fragment, copy link / curl / frocket run
 * Test hooks are listed in README.md beside this file.
 */
'use strict';

(function () {
  // ---------------------------------------------------------------------------------------
  // 1. Helpers
  // ---------------------------------------------------------------------------------------

  const $ = (sel, root = document) => root.querySelector(sel);
  const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));

  /** Creates an element: h('div', {class: 'x', onclick: fn}, child, 'text', [more]). */
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    setAttrs(el, attrs);
    appendAll(el, children);
    return el;
  }

  const SVG_NS = 'http://www.w3.org/2000/svg';
  function s(tag, attrs, ...children) {
    const el = document.createElementNS(SVG_NS, tag);
    setAttrs(el, attrs);
    appendAll(el, children);
    return el;
  }

  function setAttrs(el, attrs) {
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
      else if (k === 'text') el.textContent = v;
      // Through the CSSOM: the Content-Security-Policy blocks style attributes, not this.
      else if (k === 'style') el.style.cssText = String(v);
      else el.setAttribute(k, v === true ? '' : String(v));
    }
  }

  function appendAll(el, children) {
    for (const c of children.flat(Infinity)) {
      if (c === undefined || c === null || c === false) continue;
      el.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
  }

  const intFmt = new Intl.NumberFormat('en-US');
  const fmtInt = (n) => (n === null || n === undefined || !isFinite(n) ? '–' : intFmt.format(n));

  /** A number for display: integers grouped, floats with up to 2 decimals (more when tiny). */
  function fmtNum(n) {
    if (n === null || n === undefined || !isFinite(n)) return '–';
    if (Number.isInteger(n)) return intFmt.format(n);
    const abs = Math.abs(n);
    const digits = abs >= 100 ? 1 : abs >= 1 ? 2 : 4;
    return new Intl.NumberFormat('en-US', { maximumFractionDigits: digits }).format(n);
  }

  function fmtPct(part, whole) {
    if (!whole) return '–';
    const p = (100 * part) / whole;
    if (p === 0 || p === 100) return p + '%';
    return (p < 0.1 ? p.toFixed(2) : p.toFixed(1)) + '%';
  }

  function fmtBytes(n) {
    if (n === null || n === undefined || !isFinite(n)) return '–';
    const units = ['B', 'KB', 'MB', 'GB', 'TB'];
    let i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
    return (i === 0 ? n : n.toFixed(n >= 100 ? 0 : 1)) + ' ' + units[i];
  }

  function fmtSeconds(sec) {
    if (sec === null || sec === undefined || !isFinite(sec)) return '–';
    if (sec < 1) return Math.round(sec * 1000) + ' ms';
    return sec.toFixed(sec < 10 ? 2 : 1) + ' s';
  }

  /** Milliseconds per timestamp unit. */
  const MS_PER = { ns: 1e-6, us: 1e-3, ms: 1, s: 1000 };

  /**
   * Formats a duration given in timestamp units (`unit`: ns, us, ms or s; ms when unknown)
   * as "21m 24s", "3h 5m", "2d 4h", "850ms". The one place to change when the API starts
   * reporting the dataset's unit or a different style is wanted.
   */
  function formatDuration(value, unit = 'ms') {
    if (value === null || value === undefined || value === '' || !isFinite(value)) return '–';
    let ms = Number(value) * (MS_PER[unit] || 1);
    const sign = ms < 0 ? '-' : '';
    ms = Math.abs(ms);
    if (ms === 0) return '0';
    if (ms < 1) return sign + +(ms * 1000).toPrecision(3) + 'µs';
    if (ms < 1000) return sign + +ms.toPrecision(3) + 'ms';
    if (ms < 10000) return sign + +(ms / 1000).toFixed(1) + 's';
    const total = Math.round(ms / 1000);
    const d = Math.floor(total / 86400), hr = Math.floor((total % 86400) / 3600);
    const m = Math.floor((total % 3600) / 60), sec = total % 60;
    const pair = (a, ua, b, ub) => a + ua + (b ? ' ' + b + ub : '');
    if (d) return sign + pair(d, 'd', hr, 'h');
    if (hr) return sign + pair(hr, 'h', m, 'm');
    return sign + pair(m, 'm', sec, 's');
  }

  /** A timestamp (in the dataset's unit) as "2020-09-13 12:27 UTC". */
  function formatTimestamp(value, unit) {
    if (value === null || value === undefined || !isFinite(value)) return '–';
    const d = new Date(Number(value) * (MS_PER[unit] || 1));
    if (isNaN(d.getTime())) return String(value);
    return d.toISOString().slice(0, 16).replace('T', ' ') + ' UTC';
  }

  /** Display units of the duration inputs, in ms. `m` is minutes, as in the API's "90m". */
  const DURATION_UNITS = [['ms', 1], ['s', 1000], ['m', 60000], ['h', 3600000], ['d', 86400000], ['w', 604800000]];
  const DUR_MS = Object.fromEntries(DURATION_UNITS);
  DUR_MS.min = 60000;

  /** Timestamp units -> ms factor of the current time unit. */
  const tsMs = () => MS_PER[state.timeUnit] || 1;

  /** Rounds away float noise (30 * 60000 / 1 stays 1800000; 0.1 * 3 stays 0.3). */
  function clean(x) {
    const r = Math.round(x);
    return Math.abs(x - r) < 1e-9 * Math.max(1, Math.abs(x)) ? r : +x.toPrecision(15);
  }

  /** A duration in timestamp units as a short token ("10m", "1h", "1500ms"), for inputs. */
  function durationToken(tsValue) {
    if (tsValue < 0) return '-' + durationToken(-tsValue);
    const ms = tsValue * tsMs();
    for (let i = DURATION_UNITS.length - 1; i >= 0; i--) {
      const [u, f] = DURATION_UNITS[i];
      if (ms >= f && Math.abs(ms / f - Math.round(ms / f)) < 1e-9) return Math.round(ms / f) + u;
    }
    return clean(ms) + 'ms';
  }

  /** Parses "10m", "1.5h", "250" (bare = timestamp units); null when not a duration. */
  function parseDurationToken(tok) {
    const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m|min|h|d|w)?$/.exec(tok.trim());
    if (!m) return null;
    const n = Number(m[1]);
    return m[2] ? clean((n * DUR_MS[m[2]]) / tsMs()) : n;
  }

  function debounce(fn, ms) {
    let t = 0;
    return (...args) => { clearTimeout(t); t = setTimeout(() => fn(...args), ms); };
  }

  function toast(msg) {
    const t = $('#toast');
    t.textContent = msg;
    t.classList.add('show');
    clearTimeout(toast.timer);
    toast.timer = setTimeout(() => t.classList.remove('show'), 2200);
  }

  // ---------------------------------------------------------------------------------------
  // 2. JSON with positions
  // ---------------------------------------------------------------------------------------
  // Nodes: {t: 'o', entries: [{key, keyStart, node}]} | {t: 'a', items: [node]} |
  // {t: 'l', raw, v} (a literal: its source text and value), each with start/end offsets.
  // Literals keep their text so that numbers past 2^53 (ns timestamps) survive a reformat.

  class JsonSyntaxError extends Error {
    constructor(message, pos) { super(message); this.pos = pos; }
  }

  function parseTree(text) {
    let i = 0;
    const ws = () => { while (i < text.length && ' \t\n\r'.includes(text[i])) i++; };
    const fail = (msg) => { throw new JsonSyntaxError(msg, i); };
    const STR = /"(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"/y;
    const NUM = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
    function str() {
      STR.lastIndex = i;
      const m = STR.exec(text);
      if (!m) fail('invalid string');
      i = STR.lastIndex;
      return JSON.parse(m[0]);
    }
    function value() {
      ws();
      const start = i, c = text[i];
      if (c === '{') {
        i++;
        const entries = [];
        ws();
        if (text[i] === '}') { i++; return { t: 'o', entries, start, end: i }; }
        for (;;) {
          ws();
          if (text[i] !== '"') fail('expected a key in double quotes');
          const keyStart = i, key = str();
          ws();
          if (text[i] !== ':') fail("expected ':' after a key");
          i++;
          entries.push({ key, keyStart, node: value() });
          ws();
          if (text[i] === ',') { i++; continue; }
          if (text[i] === '}') { i++; break; }
          fail("expected ',' or '}'");
        }
        return { t: 'o', entries, start, end: i };
      }
      if (c === '[') {
        i++;
        const items = [];
        ws();
        if (text[i] === ']') { i++; return { t: 'a', items, start, end: i }; }
        for (;;) {
          items.push(value());
          ws();
          if (text[i] === ',') { i++; continue; }
          if (text[i] === ']') { i++; break; }
          fail("expected ',' or ']'");
        }
        return { t: 'a', items, start, end: i };
      }
      if (c === '"') {
        const v = str();
        return { t: 'l', v, raw: text.slice(start, i), start, end: i };
      }
      NUM.lastIndex = i;
      const m = NUM.exec(text);
      if (m) { i = NUM.lastIndex; return { t: 'l', v: Number(m[0]), raw: m[0], start, end: i }; }
      for (const [w, v] of [['true', true], ['false', false], ['null', null]]) {
        if (text.startsWith(w, i)) { i += w.length; return { t: 'l', v, raw: w, start, end: i }; }
      }
      fail(c === undefined ? 'unexpected end of the text' : `unexpected character '${c}'`);
    }
    const root = value();
    ws();
    if (i < text.length) fail('unexpected text after the JSON value');
    return root;
  }

  function lineCol(text, pos) {
    const before = text.slice(0, pos);
    const line = before.split('\n').length;
    return { line, col: pos - before.lastIndexOf('\n') };
  }

  /** Tries to parse; {tree} or {error: "line L, column C: message", pos}. */
  function tryParse(text) {
    try {
      return { tree: parseTree(text) };
    } catch (e) {
      if (!(e instanceof JsonSyntaxError)) throw e;
      const { line, col } = lineCol(text, e.pos);
      return { error: `line ${line}, column ${col}: ${e.message}`, pos: e.pos };
    }
  }

  const getNode = (node, key) => {
    if (!node || node.t !== 'o') return undefined;
    for (let k = node.entries.length - 1; k >= 0; k--) if (node.entries[k].key === key) return node.entries[k].node;
    return undefined;
  };

  /** A tree node as a plain JS value. */
  function toJS(node) {
    if (node.t === 'l') return node.v;
    if (node.t === 'a') return node.items.map(toJS);
    const o = {};
    for (const e of node.entries) o[e.key] = toJS(e.node);
    return o;
  }

  /** A raw JSON literal (keeps a number's text) inside values given to fromJS. */
  class Raw { constructor(raw) { this.raw = raw; } }

  /** A JS value (with Raw literals and tree nodes mixed in) as a tree node. */
  function fromJS(v) {
    if (v instanceof Raw) return { t: 'l', raw: v.raw };
    if (v && typeof v === 'object' && (v.t === 'o' || v.t === 'a' || v.t === 'l') && 'start' in v) return v;
    if (Array.isArray(v)) return { t: 'a', items: v.map(fromJS) };
    if (v && typeof v === 'object') {
      return { t: 'o', entries: Object.entries(v).filter(([, x]) => x !== undefined).map(([key, x]) => ({ key, node: fromJS(x) })) };
    }
    return { t: 'l', raw: JSON.stringify(v) };
  }

  /** One line: {"a": 1, "b": [2, 3]} (spaced) or {"a":1,"b":[2,3]} (tight, for URLs). */
  function compact(node, tight = false) {
    const [comma, colon] = tight ? [',', ':'] : [', ', ': '];
    if (node.t === 'l') return node.raw;
    if (node.t === 'a') return '[' + node.items.map((n) => compact(n, tight)).join(comma) + ']';
    return '{' + node.entries.map((e) => JSON.stringify(e.key) + colon + compact(e.node, tight)).join(comma) + '}';
  }

  /** Line width of pretty(): about what the editor shows without wrapping on a laptop. */
  const PRETTY_WIDTH = 64;

  /** Readable JSON: a value fits on its line when short enough (steps and filters stay one line). */
  function pretty(node, indent = '', column = 0) {
    if (node.t === 'l') return node.raw;
    const one = compact(node);
    const empty = node.t === 'o' ? node.entries.length === 0 : node.items.length === 0;
    if (empty || column + one.length <= PRETTY_WIDTH) return one;
    const inner = indent + '  ';
    if (node.t === 'a') {
      return '[\n' + node.items.map((n) => inner + pretty(n, inner, inner.length)).join(',\n') + '\n' + indent + ']';
    }
    return '{\n' + node.entries.map((e) => {
      const k = inner + JSON.stringify(e.key) + ': ';
      return k + pretty(e.node, inner, k.length);
    }).join(',\n') + '\n' + indent + '}';
  }

  const joinPath = (p, key) => (p ? p + '.' + key : key);
  const idxPath = (p, i) => `${p}[${i}]`;

  /** Map of JSON path (server syntax: query.conditions[2].target) -> [start, end) in the text. */
  function pathSpans(root) {
    const spans = new Map();
    (function walk(node, path, start) {
      if (path) spans.set(path, [start, node.end]);
      if (node.t === 'o') node.entries.forEach((e) => walk(e.node, joinPath(path, e.key), e.keyStart));
      if (node.t === 'a') node.items.forEach((n, i) => walk(n, idxPath(path, i), n.start));
    })(root, '', root.start);
    return spans;
  }

  /** The path without its last segment ("a.b[2]" -> "a.b", "a.b" -> "a", "a" -> ""). */
  function parentPath(p) {
    const m = /^(.*?)(?:\[\d+\]|\.[^.[]+)$/.exec(p);
    return m ? m[1] : '';
  }

  // ---------------------------------------------------------------------------------------
  // 3. API, datasets, schema, parts
  // ---------------------------------------------------------------------------------------

  /**
   * The API's base: the page's directory ("/prod/index.html" -> "/prod/"); a last segment
   * without a dot is a directory ("/prod" -> "/prod/"), so a stage root works either way.
   */
  function apiBase(pathname = location.pathname) {
    const last = pathname.slice(pathname.lastIndexOf('/') + 1);
    if (last && !last.includes('.')) return pathname + '/';
    return pathname.slice(0, pathname.lastIndexOf('/') + 1) || '/';
  }
  const API = apiBase();
  const apiUrl = (path) => API + path;
  const absoluteApiUrl = (path) => new URL(apiUrl(path), location.origin).href;

  /** GET returning the envelope; throws Error(message) with .status on a failure. */
  async function apiGet(path) {
    const resp = await fetch(apiUrl(path), { headers: { accept: 'application/json' } });
    let body = null;
    try { body = await resp.json(); } catch (_) { /* not JSON */ }
    if (!resp.ok || !body || body.success === false) {
      const err = new Error((body && body.errorMessage) || `HTTP ${resp.status} ${resp.statusText}`);
      err.status = resp.status;
      throw err;
    }
    return body;
  }

  const state = {
    datasets: [],
    dataset: null, // the entry of GET datasets
    schema: null, // GET datasets/{name}/schema?full=true
    parts: null,
    timeUnit: 'ms',
    form: null, // the funnel form's model, null when the form cannot show the query
    formReason: '',
    durUnits: {}, // display unit chosen per duration input
    binsText: null, // the bins input's text while the user edits it
    binsInvalid: false,
    errors: [], // [{path, message}] of the last run
    generalError: null,
    spans: new Map(),
    running: null, // AbortController of the running query
    lastResponse: null,
    lastRunQuery: null, // the tree of the query the shown result answers
    lastRawText: null, // the final envelope's line as received
    defaultText: '',
  };

  /** State exposed for tests and the devtools console. */
  const api = (window.frocketConsole = {
    state: 'idle',
    apiBase: API,
    formatDuration,
    lastResponse: null,
    errors: [],
    run: () => runQuery(),
    setQuery: (text) => { setEditorText(text); syncFromJson(); },
  });

  function setState(st) {
    api.state = st;
    document.body.dataset.state = st;
  }

  async function loadHealth() {
    const el = $('#api-health');
    try {
      const h = await apiGet('health');
      el.dataset.status = 'ok';
      el.textContent = 'API ok';
      const q = h.queries || {};
      el.title = `datastore: ${h.datastore}; queries running ${q.running ?? '?'}, waiting ${q.waiting ?? '?'}`;
    } catch (e) {
      el.dataset.status = 'down';
      el.textContent = 'API unreachable';
      el.title = e.message;
    }
  }

  async function loadDatasets() {
    const sel = $('#dataset-select');
    try {
      const body = await apiGet('datasets');
      state.datasets = body.datasets || [];
    } catch (e) {
      state.datasets = [];
      sel.replaceChildren(h('option', { value: '' }, 'Cannot list datasets'));
      showGeneralError(`Cannot list datasets: ${e.message}`);
      return;
    }
    sel.replaceChildren();
    if (!state.datasets.length) {
      sel.append(h('option', { value: '' }, 'No datasets registered'));
      $('#dataset-info').replaceChildren(h('p', { class: 'muted' },
        'No dataset is registered. Register one with ',
        h('code', {}, 'frocket register NAME BASEPATH GROUP_ID_COL TS_COL'), ' or POST datasets/register.'));
      return;
    }
    for (const d of state.datasets) sel.append(h('option', { value: d.name }, d.name));
    sel.disabled = false;
  }

  async function selectDataset(name) {
    const sel = $('#dataset-select');
    const d = state.datasets.find((x) => x.name === name);
    state.dataset = d || null;
    state.schema = null;
    state.parts = null;
    $('#run-button').disabled = !d;
    if (!d) { renderDataset(); renderForm(); return; }
    sel.value = d.name;
    renderDataset();
    const [schema, parts] = await Promise.allSettled([
      apiGet(`datasets/${encodeURIComponent(d.name)}/schema?full=true`),
      apiGet(`datasets/${encodeURIComponent(d.name)}/parts`),
    ]);
    if (state.dataset !== d) return; // another dataset was picked meanwhile
    state.schema = schema.status === 'fulfilled' ? schema.value : null;
    state.parts = parts.status === 'fulfilled' ? parts.value : null;
    if (state.schema && state.schema.timestampUnit && MS_PER[state.schema.timestampUnit]) {
      state.timeUnit = state.schema.timestampUnit;
      $('#time-unit').value = state.timeUnit;
    }
    renderDataset(schema.status === 'rejected' ? schema.reason.message : null,
      parts.status === 'rejected' ? parts.reason.message : null);
    renderForm();
  }

  const columnsOf = () => (state.schema && state.schema.columns) || {};
  const detailsOf = (col) => (state.schema && state.schema.details && state.schema.details[col]) || {};
  const topValues = (col) => (detailsOf(col).topValues || []).map((x) => (Array.isArray(x) ? x[0] : x));

  function renderDataset(schemaError, partsError) {
    const d = state.dataset;
    const info = $('#dataset-info');
    const schemaEl = $('#schema');
    const partsEl = $('#parts');
    if (!d) {
      info.replaceChildren(h('p', { class: 'muted' }, 'No dataset selected.'));
      schemaEl.replaceChildren();
      partsEl.replaceChildren();
      return;
    }
    const sc = state.schema;
    const rows = [
      ['Name', d.name],
      ['Base path', h('code', { class: 'break' }, d.basepath)],
      ['Group id', h('code', {}, d.groupIdColumn)],
      ['Timestamp', h('code', {}, d.timestampColumn)],
      ['Parts', `${fmtInt(d.parts)} · ${fmtBytes(d.totalSize)}`],
    ];
    if (sc) {
      rows.push(['Time range', h('span', { title: `${sc.minTimestamp} … ${sc.maxTimestamp}` },
        formatTimestamp(sc.minTimestamp, state.timeUnit), h('br'), formatTimestamp(sc.maxTimestamp, state.timeUnit))]);
      rows.push(['Time unit', sc.timestampUnit || h('span', { class: 'muted' }, 'unknown (shown as ' + state.timeUnit + ')')]);
    }
    if (d.registeredAt) rows.push(['Registered', formatTimestamp(d.registeredAt, 's')]);
    rows.push(['Last used', d.lastUsed ? formatTimestamp(d.lastUsed, 's') : 'never']);
    info.replaceChildren(h('dl', { class: 'kv' }, rows.map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)])));

    // Schema: one row per column, categorical values as buttons that add a funnel step.
    if (!sc) {
      schemaEl.replaceChildren(h('p', { class: schemaError ? 'error-text' : 'muted' }, schemaError || 'Loading…'));
    } else {
      const cats = new Set([...(sc.sourceCategoricals || []), ...(sc.potentialCategoricals || [])]);
      const list = h('ul', { class: 'columns', id: 'schema-columns' });
      for (const [col, type] of Object.entries(sc.columns || {}).sort()) {
        const det = detailsOf(col);
        const roles = [];
        if (col === d.groupIdColumn) roles.push('group id');
        if (col === d.timestampColumn) roles.push('timestamp');
        if (cats.has(col)) roles.push('categorical');
        const li = h('li', { class: 'column', 'data-column': col, 'data-type': type },
          h('div', { class: 'column-head' },
            h('code', { class: 'column-name' }, col),
            h('span', { class: 'type-badge' }, type),
            roles.map((r) => h('span', { class: 'role-badge' }, r))));
        if (det.min !== undefined && det.max !== undefined && col !== d.timestampColumn) {
          li.append(h('div', { class: 'column-range muted' }, `${fmtNum(det.min)} … ${fmtNum(det.max)}`));
        }
        const tv = det.topValues || [];
        if (tv.length) {
          li.append(h('div', { class: 'values', role: 'group', 'aria-label': `Top values of ${col}` },
            tv.map(([v, freq]) => h('button', {
              type: 'button', class: 'value-chip', 'data-column': col, 'data-value': v,
              'aria-label': `Add step ${col} == ${v} (${fmtPct(freq, 1)} of rows)`,
              title: `${fmtPct(freq, 1)} of rows — click to add as a funnel step`,
              onclick: () => addStepFromValue(col, v, type),
            }, h('span', {}, v), h('small', {}, fmtPct(freq, 1))))));
        }
        list.append(li);
      }
      schemaEl.replaceChildren(list);
    }

    // Parts: a short list (the first 50) in a disclosure.
    const p = state.parts;
    if (!p) {
      partsEl.replaceChildren(h('p', { class: partsError ? 'error-text' : 'muted' }, partsError || 'Loading…'));
    } else {
      const shown = (p.parts || []).slice(0, 50);
      partsEl.replaceChildren(
        h('p', { class: 'muted' }, `${fmtInt(p.count)} parts, ${fmtBytes(p.totalSize)}`),
        h('details', { class: 'parts-details', open: p.count <= 4 },
          h('summary', {}, 'Files'),
          h('ul', { class: 'parts-list', id: 'parts-list' },
            shown.map((x) => h('li', { title: x.path },
              h('span', { class: 'part-name' }, x.path.split('/').pop()), h('span', { class: 'muted' }, fmtBytes(x.size)))),
            p.count > shown.length ? h('li', { class: 'muted' }, `… and ${fmtInt(p.count - shown.length)} more`) : null)));
    }
  }

  // ---------------------------------------------------------------------------------------
  // 4. The funnel form, in sync with the JSON
  // ---------------------------------------------------------------------------------------
  // Model: {steps: [{negative, within, useFilters, filters: [{column, op, value}]}],
  //         maxDuration, order, hold: [columns], conv: null | {bins: null | [literal]},
  //         extra: [funnel entries the form does not edit, kept as they are], present}
  // Filter values and durations are JSON literal texts ('"view"', '1800000', '"30m"').

  const OPS = {
    NUM: ['==', '!=', '>', '>=', '<', '<='],
    BOOL: ['==', '!='],
    STRING: ['==', '!=', '>', '>=', '<', '<=', 'contains', 'not contains', 'regex'],
    LIST: ['includes', 'not includes'],
  };
  const ALL_OPS = [...OPS.STRING, ...OPS.LIST];
  function opsFor(type) {
    if (!type) return ALL_OPS;
    if (type.startsWith('LIST')) return OPS.LIST;
    if (type === 'INT' || type === 'FLOAT') return OPS.NUM;
    return OPS[type] || ALL_OPS;
  }
  const isNumericType = (t) => /^(LIST<)?(INT|FLOAT)>?$/.test(t || '');

  const literalText = (raw) => { try { const v = JSON.parse(raw); return typeof v === 'string' ? v : raw; } catch (_) { return raw; } };

  /** The input's text as a literal of the column's type (numbers keep their text). */
  function textToLiteral(text, type) {
    const t = text.trim();
    if (type === 'BOOL' && (t === 'true' || t === 'false')) return t;
    if (isNumericType(type) && /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/.test(t)) return t;
    return JSON.stringify(text);
  }

  /** A filter (shorthand or verbose) -> {column, op, value} or a reason. */
  function filterToModel(node, path) {
    if (node.t === 'a' && node.items.length === 3 && node.items[0].t === 'l' && typeof node.items[0].v === 'string' &&
        node.items[1].t === 'l' && typeof node.items[1].v === 'string' && node.items[2].t === 'l' && node.items[2].v !== null) {
      return { column: node.items[0].v, op: node.items[1].v, value: node.items[2].raw };
    }
    if (node.t === 'o') {
      const c = getNode(node, 'column'), o = getNode(node, 'op'), v = getNode(node, 'value');
      const keysOk = node.entries.every((e) => ['column', 'op', 'value'].includes(e.key));
      if (keysOk && c && o && v && c.t === 'l' && typeof c.v === 'string' && o.t === 'l' && typeof o.v === 'string' && v.t === 'l' && v.v !== null) {
        return { column: c.v, op: o.v, value: v.raw };
      }
    }
    return { reason: `${path} is not a filter the form knows (["column", "op", value])` };
  }

  function durationLiteral(node, path) {
    if (node.t === 'l' && (typeof node.v === 'number' || typeof node.v === 'string')) return { value: node.raw };
    return { reason: `${path} is not a number or a duration string` };
  }

  /** The query tree -> the form's model, or {reason} when the form cannot show its funnel. */
  function treeToModel(root) {
    const m = { steps: [], maxDuration: null, order: null, hold: [], conv: null, extra: [], present: false };
    if (!root) return { model: m };
    if (root.t !== 'o') return { reason: 'the query is not a JSON object' };
    const f = getNode(root, 'funnel');
    if (!f || (f.t === 'l' && f.v === null)) return { model: m };
    if (f.t !== 'o') return { reason: 'funnel is not an object' };
    m.present = true;
    for (const e of f.entries) {
      const path = 'funnel.' + e.key, n = e.node;
      if (e.key === 'sequence') {
        if (n.t !== 'a') return { reason: 'funnel.sequence is not a list' };
        for (let i = 0; i < n.items.length; i++) {
          const st = n.items[i], sp = idxPath('funnel.sequence', i);
          if (st.t !== 'o') return { reason: `${sp} is not an object` };
          const step = { negative: false, within: null, useFilters: false, filters: [] };
          for (const se of st.entries) {
            if (se.key === 'filter') {
              const fm = filterToModel(se.node, sp + '.filter');
              if (fm.reason) return fm;
              step.filters.push(fm);
            } else if (se.key === 'filters') {
              if (se.node.t !== 'a' || !se.node.items.length) return { reason: `${sp}.filters is not a list of filters` };
              step.useFilters = true;
              for (let j = 0; j < se.node.items.length; j++) {
                const fm = filterToModel(se.node.items[j], `${sp}.filters[${j}]`);
                if (fm.reason) return fm;
                step.filters.push(fm);
              }
            } else if (se.key === 'rowFound') {
              if (se.node.t !== 'l' || typeof se.node.v !== 'boolean') return { reason: `${sp}.rowFound is not true or false` };
              step.negative = se.node.v === false;
            } else if (se.key === 'within') {
              const d = durationLiteral(se.node, sp + '.within');
              if (d.reason) return d;
              step.within = d.value;
            } else {
              return { reason: `${sp} has the key '${se.key}'` };
            }
          }
          if (!step.filters.length) return { reason: `${sp} has no filter` };
          if (getNode(st, 'filter') && getNode(st, 'filters')) return { reason: `${sp} has both filter and filters` };
          m.steps.push(step);
        }
      } else if (e.key === 'maxDuration') {
        const d = durationLiteral(n, path);
        if (d.reason) return d;
        m.maxDuration = d.value;
      } else if (e.key === 'order') {
        if (n.t !== 'l' || typeof n.v !== 'string') return { reason: 'funnel.order is not a string' };
        m.order = n.v;
      } else if (e.key === 'holdConstant') {
        if (n.t !== 'a' || !n.items.every((x) => x.t === 'l' && typeof x.v === 'string')) {
          return { reason: 'funnel.holdConstant is not a list of column names' };
        }
        m.hold = n.items.map((x) => x.v);
      } else if (e.key === 'conversionTime') {
        if (n.t === 'l' && typeof n.v === 'boolean') {
          m.conv = n.v ? { bins: null } : null;
        } else if (n.t === 'o' && n.entries.every((x) => x.key === 'bins')) {
          const b = getNode(n, 'bins');
          if (!b) { m.conv = { bins: null }; continue; }
          if (b.t !== 'a' || !b.items.every((x) => x.t === 'l' && (typeof x.v === 'number' || typeof x.v === 'string'))) {
            return { reason: 'funnel.conversionTime.bins is not a list of durations' };
          }
          m.conv = { bins: b.items.map((x) => x.raw) };
        } else {
          return { reason: 'funnel.conversionTime is not true or {"bins": [...]}' };
        }
      } else {
        m.extra.push(e); // stepAggregations, endAggregations, and anything else: kept verbatim
      }
    }
    return { model: m };
  }

  /** The model -> the funnel's JS value (with Raw literals), or undefined for no funnel. */
  function modelToFunnel(m) {
    const untouched = !m.steps.length && m.maxDuration === null && !m.order && !m.hold.length && !m.conv && !m.extra.length;
    if (untouched) return undefined;
    const f = {};
    f.sequence = m.steps.map((st) => {
      const out = {};
      const filters = st.filters.map((x) => [x.column, x.op, new Raw(x.value)]);
      if (filters.length === 1 && !st.useFilters) out.filter = filters[0];
      else out.filters = filters;
      if (st.negative) out.rowFound = false;
      if (st.within !== null) out.within = new Raw(st.within);
      return out;
    });
    if (m.maxDuration !== null) f.maxDuration = new Raw(m.maxDuration);
    if (m.hold.length) f.holdConstant = m.hold;
    if (m.order) f.order = m.order;
    if (m.conv) f.conversionTime = m.conv.bins ? { bins: m.conv.bins.map((b) => new Raw(b)) } : true;
    for (const e of m.extra) f[e.key] = e.node;
    return f;
  }

  const editor = () => $('#query-json');

  /** Sets the editor's text (keeping its scroll) and redraws the highlight layer. */
  function setEditorText(text) {
    const ta = editor();
    const top = ta.scrollTop;
    ta.value = text;
    ta.scrollTop = top;
    refreshEditor();
  }

  /** The form changed: rewrite the funnel in the JSON (only the funnel's text when possible). */
  function syncToJson() {
    const ta = editor();
    const text = ta.value;
    const parsed = text.trim() ? tryParse(text) : { tree: { t: 'o', entries: [], start: 0, end: 0 } };
    if (!parsed.tree || parsed.tree.t !== 'o') return; // the form is disabled then; nothing to do
    const root = parsed.tree;
    const funnel = modelToFunnel(state.form);
    const k = root.entries.findIndex((e) => e.key === 'funnel');
    if (funnel !== undefined && k >= 0 && text.trim()) {
      // Splice the new funnel over the old one's text, indented like its line.
      const old = root.entries[k].node;
      const lineStart = text.lastIndexOf('\n', old.start - 1) + 1;
      const indent = /^[ \t]*/.exec(text.slice(lineStart))[0];
      const node = fromJS(funnel);
      setEditorText(text.slice(0, old.start) + pretty(node, indent, old.start - lineStart) + text.slice(old.end));
    } else {
      // No funnel yet (or it goes away): rewrite the whole query.
      const entries = root.entries.filter((e) => e.key !== 'funnel');
      if (funnel !== undefined) entries.push({ key: 'funnel', node: fromJS(funnel) });
      setEditorText(pretty({ t: 'o', entries }) + '\n');
    }
  }

  /** The JSON changed: re-read the form's model from it. */
  function syncFromJson() {
    const text = editor().value;
    state.binsText = null;
    state.binsInvalid = false;
    $('#bins-hint').textContent = '';
    state.durUnits = {}; // durations show in the unit that fits their new values
    if (!text.trim()) {
      state.form = treeToModel(null).model;
      state.formReason = '';
    } else {
      const parsed = tryParse(text);
      if (parsed.error) {
        state.form = null;
        state.formReason = `the JSON does not parse (${parsed.error}); the form follows once it does`;
      } else {
        const r = treeToModel(parsed.tree);
        state.form = r.model || null;
        state.formReason = r.reason || '';
      }
    }
    renderForm();
  }

  const onEditorInput = debounce(syncFromJson, 200);

  function eligibleHoldColumns() {
    const d = state.dataset || {};
    return Object.entries(columnsOf())
      .filter(([c, t]) => ['INT', 'STRING', 'BOOL'].includes(t) && c !== d.groupIdColumn && c !== d.timestampColumn)
      .map(([c]) => c)
      .sort();
  }

  /** A select with `options` ([value, label]) plus the current value when it is not one of them. */
  function selectEl(attrs, options, current) {
    const opts = options.map((o) => (Array.isArray(o) ? o : [o, o]));
    if (current !== undefined && current !== null && !opts.some(([v]) => v === current)) opts.push([current, current + ' (?)']);
    const el = h('select', attrs, opts.map(([v, l]) => h('option', { value: v }, l)));
    el.value = current ?? opts[0][0];
    return el;
  }

  /** Amount + unit inputs for a duration literal (timestamp units or a "30m" string). */
  function durationInput(key, literal, label, path, placeholder) {
    let amount = '', unit = state.durUnits[key];
    if (literal !== null && literal !== undefined) {
      let v = null;
      try { v = JSON.parse(literal); } catch (_) { /* keep empty */ }
      if (typeof v === 'string') {
        const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)$/.exec(v.trim());
        if (m) { amount = m[1]; unit = m[2]; } else { amount = v; }
      } else if (typeof v === 'number') {
        if (!unit) {
          const m = /^(-?[\d.]+)(\w+)$/.exec(durationToken(v));
          amount = m ? m[1] : String(v);
          unit = m ? m[2] : 'ms';
        } else {
          amount = String(clean((v * tsMs()) / DUR_MS[unit]));
        }
      }
    }
    unit = unit || 'm';
    return h('span', { class: 'duration', 'data-path': path },
      h('input', {
        type: 'text', inputmode: 'decimal', class: 'dur-amount', 'data-act': 'dur-amount', 'data-dur': key,
        'data-key': key + '-amount', 'data-path': path, 'aria-label': label, value: amount, placeholder: placeholder || 'none',
        autocomplete: 'off',
      }),
      selectEl({ class: 'dur-unit', 'data-act': 'dur-unit', 'data-dur': key, 'data-key': key + '-unit', 'aria-label': label + ' unit' },
        DURATION_UNITS.map(([u]) => [u, u === 'm' ? 'min' : u]), unit));
  }

  /** Where a duration input writes in the model. */
  function durationTarget(key) {
    if (key === 'max') return { get: () => state.form.maxDuration, set: (v) => { state.form.maxDuration = v; } };
    const i = Number(key.split('-')[1]);
    return { get: () => state.form.steps[i].within, set: (v) => { state.form.steps[i].within = v; } };
  }

  /** Reads a duration input pair back into the model (a number in timestamp units). */
  function readDuration(key) {
    const amountEl = $(`[data-act="dur-amount"][data-dur="${key}"]`);
    const unitEl = $(`[data-act="dur-unit"][data-dur="${key}"]`);
    state.durUnits[key] = unitEl.value;
    const t = amountEl.value.trim();
    const target = durationTarget(key);
    if (!t) { target.set(null); amountEl.removeAttribute('aria-invalid'); return true; }
    const n = Number(t);
    if (!isFinite(n) || n < 0) { amountEl.setAttribute('aria-invalid', 'true'); return false; }
    amountEl.removeAttribute('aria-invalid');
    target.set(String(clean((n * DUR_MS[unitEl.value]) / tsMs())));
    return true;
  }

  function stepTitle(i) {
    const steps = state.form.steps;
    if (steps[i].negative) return 'Did not happen';
    const n = steps.slice(0, i + 1).filter((x) => !x.negative).length;
    return `Step ${n}`;
  }

  /** Renders the form from the model, keeping the focused control focused. */
  function renderForm() {
    const active = document.activeElement;
    const focusKey = active && active.closest && active.closest('#funnel-form') ? active.dataset.key : null;
    const selStart = focusKey && active.selectionStart, selEnd = focusKey && active.selectionEnd;

    const status = $('#form-status');
    const fieldset = $('#funnel-fieldset');
    const list = $('#funnel-steps');
    const m = state.form;
    fieldset.disabled = !m;
    $('#funnel-form').classList.toggle('form-disabled', !m);
    if (!m) {
      status.className = 'form-status warn';
      status.textContent = `The form cannot show this query: ${state.formReason}.`;
      list.replaceChildren();
      $('#hold-constant').replaceChildren();
      return;
    }
    status.className = 'form-status';
    status.textContent = m.steps.length
      ? 'The form and the JSON stay in sync: editing either updates the other.'
      : 'No funnel in this query: add a step, or click a value in the schema.';

    const columns = Object.keys(columnsOf()).sort();
    const datalists = [];
    list.replaceChildren(...m.steps.map((st, i) => {
      const sp = idxPath('funnel.sequence', i);
      const title = stepTitle(i);
      const filters = st.filters.map((f, j) => {
        const type = columnsOf()[f.column];
        const fp = st.filters.length === 1 && !st.useFilters ? sp + '.filter' : `${sp}.filters[${j}]`;
        const key = `s${i}-f${j}`;
        let valueEl;
        if (type === 'BOOL' && (f.value === 'true' || f.value === 'false')) {
          valueEl = selectEl({ class: 'f-value', 'data-act': 'value', 'data-step': i, 'data-filter': j, 'data-key': key + '-value', 'aria-label': `${title} value` },
            ['true', 'false'], f.value);
        } else {
          const tv = topValues(f.column);
          let listId;
          if (tv.length) {
            listId = 'values-' + f.column.replace(/[^A-Za-z0-9_-]/g, '_');
            if (!datalists.some((d) => d.id === listId)) datalists.push(h('datalist', { id: listId }, tv.map((v) => h('option', { value: v }))));
          }
          valueEl = h('input', {
            type: 'text', class: 'f-value', 'data-act': 'value', 'data-step': i, 'data-filter': j, 'data-key': key + '-value',
            'aria-label': `${title} value`, value: literalText(f.value), list: listId, autocomplete: 'off', spellcheck: 'false',
          });
        }
        return h('div', { class: 'filter-row', 'data-path': fp },
          j > 0 ? h('span', { class: 'and', 'aria-hidden': 'true' }, 'and') : null,
          selectEl({ class: 'f-column', 'data-act': 'column', 'data-step': i, 'data-filter': j, 'data-key': key + '-column', 'aria-label': `${title} column` },
            columns.length ? columns : [f.column], f.column),
          selectEl({ class: 'f-op', 'data-act': 'op', 'data-step': i, 'data-filter': j, 'data-key': key + '-op', 'aria-label': `${title} operator` },
            opsFor(type), f.op),
          valueEl,
          st.filters.length > 1
            ? h('button', { type: 'button', class: 'icon-btn', 'data-act': 'remove-filter', 'data-step': i, 'data-filter': j, 'data-key': key + '-remove', 'aria-label': `Remove condition ${j + 1} of ${title}`, title: 'Remove condition' }, '×')
            : null);
      });
      const positivesBefore = m.steps.slice(0, i).some((x) => !x.negative);
      const showWithin = st.within !== null || (!st.negative && positivesBefore);
      const badge = st.negative ? '∅' : String(m.steps.slice(0, i + 1).filter((x) => !x.negative).length);
      return h('li', { class: 'step-editor' + (st.negative ? ' negative' : ''), 'data-path': sp, 'data-index': i },
        h('span', { class: 'step-badge', title }, h('span', { 'aria-hidden': 'true' }, badge), h('span', { class: 'visually-hidden' }, title)),
        h('div', { class: 'filters', role: 'group', 'aria-label': `${title} (row ${i + 1})` }, filters),
        h('span', { class: 'step-tools' },
          h('button', { type: 'button', class: 'icon-btn', 'data-act': 'up', 'data-step': i, 'data-key': `s${i}-up`, disabled: i === 0, 'aria-label': `Move ${title.toLowerCase()} (row ${i + 1}) up`, title: 'Move up' }, '↑'),
          h('button', { type: 'button', class: 'icon-btn', 'data-act': 'down', 'data-step': i, 'data-key': `s${i}-down`, disabled: i === m.steps.length - 1, 'aria-label': `Move ${title.toLowerCase()} (row ${i + 1}) down`, title: 'Move down' }, '↓'),
          h('button', { type: 'button', class: 'icon-btn danger', 'data-act': 'remove-step', 'data-step': i, 'data-key': `s${i}-remove`, 'aria-label': `Remove ${title.toLowerCase()} (row ${i + 1})`, title: 'Remove step' }, '×')),
        h('div', { class: 'step-foot' },
          h('button', { type: 'button', class: 'link-btn', 'data-act': 'add-filter', 'data-step': i, 'data-key': `s${i}-addf`, 'aria-label': `Add a condition to ${title.toLowerCase()} (row ${i + 1})` }, '+ and'),
          h('label', { class: 'check small' },
            h('input', { type: 'checkbox', 'data-act': 'negative', 'data-step': i, 'data-key': `s${i}-neg`, checked: st.negative }),
            'did not happen'),
          showWithin
            ? h('span', { class: 'within', 'data-path': sp + '.within' },
              h('span', { class: 'within-label' }, 'within'),
              durationInput('within-' + i, st.within, `${title}: within, after the previous step`, sp + '.within', 'any'),
              h('span', { class: 'within-label' }, 'of previous step'))
            : null));
    }));
    list.append(...datalists);

    $('#max-duration').replaceChildren(durationInput('max', m.maxDuration, 'Max duration from the first step to the last', 'funnel.maxDuration', 'no limit'));
    const order = $('#order-select');
    const orders = [['ordered', 'ordered — other events may come between'], ['strict', 'strict — each step is the very next event']];
    if (m.order && !orders.some(([v]) => v === m.order)) orders.push([m.order, m.order + ' (?)']);
    order.replaceChildren(...orders.map(([v, l]) => h('option', { value: v }, l)));
    order.value = m.order || 'ordered';

    const hold = $('#hold-constant');
    const holdCols = [...new Set([...eligibleHoldColumns(), ...m.hold])];
    hold.replaceChildren(...(holdCols.length ? holdCols.map((c) => {
      const k = m.hold.indexOf(c);
      return h('label', { class: 'chip-check', 'data-path': k >= 0 ? `funnel.holdConstant[${k}]` : null },
        h('input', { type: 'checkbox', 'data-act': 'hold', value: c, 'data-key': 'hold-' + c, checked: k >= 0 }), ' ', c);
    }) : [h('span', { class: 'muted' }, 'no eligible columns (INT, STRING or BOOL)')]));

    const convOn = !!m.conv;
    $('#conversion-enabled').checked = convOn;
    const bins = $('#conversion-bins');
    bins.disabled = !convOn;
    if (state.binsText === null) {
      bins.value = convOn && m.conv.bins ? m.conv.bins.map((b) => {
        const v = JSON.parse(b);
        return typeof v === 'number' ? durationToken(v) : v;
      }).join(', ') : '';
    }

    applyFormErrors();
    if (focusKey) {
      const el = $(`#funnel-form [data-key="${CSS.escape(focusKey)}"]`);
      if (el && !el.disabled) {
        el.focus({ preventScroll: true });
        if (selStart !== null && selStart !== undefined && 'setSelectionRange' in el && el.type === 'text') {
          try { el.setSelectionRange(selStart, selEnd); } catch (_) { /* not a text field */ }
        }
      }
    }
  }

  /** Applies a form edit (from an input, change or click event) to the model. */
  function onFormEvent(ev) {
    const el = ev.target.closest('[data-act]');
    if (!el || !state.form) return;
    const act = el.dataset.act;
    const m = state.form;
    const i = Number(el.dataset.step), j = Number(el.dataset.filter);
    const textActs = ['value', 'dur-amount'];
    const isText = el.tagName === 'INPUT' && el.type === 'text';
    if (ev.type === 'input' && !(isText && textActs.includes(act))) return;
    if (ev.type === 'change' && isText) return;
    if (ev.type === 'click' && el.tagName !== 'BUTTON') return;
    let rerender = true;
    switch (act) {
      case 'value': {
        const f = m.steps[i].filters[j];
        f.value = textToLiteral(el.value, columnsOf()[f.column]);
        rerender = !isText;
        break;
      }
      case 'column': {
        const f = m.steps[i].filters[j];
        f.column = el.value;
        const type = columnsOf()[f.column];
        if (!opsFor(type).includes(f.op)) f.op = opsFor(type)[0];
        if (type === 'BOOL') f.value = f.value === 'false' ? 'false' : 'true';
        else f.value = textToLiteral(literalText(f.value), type);
        break;
      }
      case 'op': m.steps[i].filters[j].op = el.value; break;
      case 'negative':
        m.steps[i].negative = el.checked;
        if (el.checked) m.steps[i].within = null;
        break;
      case 'up': case 'down': {
        const k = act === 'up' ? i - 1 : i + 1;
        if (k < 0 || k >= m.steps.length) return;
        [m.steps[i], m.steps[k]] = [m.steps[k], m.steps[i]];
        state.durUnits = {};
        syncToJson();
        renderForm();
        // Keep the focus on the moved step: its same arrow, or the other one at an end.
        const moved = [act, act === 'up' ? 'down' : 'up'].map((a) => $(`#funnel-form [data-key="s${k}-${a}"]`)).find((b) => b && !b.disabled);
        if (moved) moved.focus();
        return;
      }
      case 'remove-step':
        m.steps.splice(i, 1);
        state.durUnits = {};
        syncToJson();
        renderForm();
        ($(`#funnel-form [data-key="s${Math.min(i, m.steps.length - 1)}-remove"]`) || $('#add-step')).focus();
        return;
      case 'add-filter': {
        const last = m.steps[i].filters[m.steps[i].filters.length - 1];
        m.steps[i].filters.push({ column: last.column, op: last.op, value: last.value });
        syncToJson();
        renderForm();
        const added = $(`#funnel-form [data-key="s${i}-f${m.steps[i].filters.length - 1}-value"]`);
        if (added) added.focus();
        return;
      }
      case 'remove-filter':
        m.steps[i].filters.splice(j, 1);
        break;
      case 'dur-amount': case 'dur-unit':
        if (!readDuration(el.dataset.dur)) return;
        rerender = act === 'dur-unit';
        break;
      case 'hold': {
        if (el.checked && !m.hold.includes(el.value)) m.hold.push(el.value);
        if (!el.checked) m.hold = m.hold.filter((c) => c !== el.value);
        break;
      }
      default: return;
    }
    syncToJson();
    if (rerender) renderForm();
  }

  function onOptionEvent(ev) {
    const m = state.form;
    if (!m) return;
    const t = ev.target;
    if (t.id === 'order-select' && ev.type === 'change') {
      m.order = t.value === 'ordered' ? null : t.value;
    } else if (t.id === 'conversion-enabled' && ev.type === 'change') {
      m.conv = t.checked ? { bins: null } : null;
      state.binsText = null;
      state.binsInvalid = false;
      $('#bins-hint').textContent = '';
      if (t.checked) {
        $('#conversion-bins').disabled = false;
        if (!$('#conversion-bins').value.trim()) {
          $('#conversion-bins').value = '1m, 10m, 1h';
          return onOptionEvent({ type: 'input', target: $('#conversion-bins') });
        }
      }
    } else if (t.id === 'conversion-bins' && ev.type === 'input') {
      const toks = t.value.split(/[,\s]+/).filter(Boolean);
      const vals = toks.map(parseDurationToken);
      const ok = vals.every((v) => v !== null && v > 0) && vals.every((v, k) => k === 0 || v > vals[k - 1]);
      state.binsInvalid = !ok;
      if (ok) t.removeAttribute('aria-invalid'); else t.setAttribute('aria-invalid', 'true');
      $('#bins-hint').textContent = ok ? '' : 'Bins: increasing durations like 1m, 10m, 1h (a bare number is in timestamp units).';
      state.binsText = t.value;
      if (!ok || !m.conv) return;
      m.conv.bins = vals.length ? vals.map(String) : null;
      syncToJson();
      return;
    } else {
      return;
    }
    syncToJson();
    renderForm();
  }

  /** A new step from a schema value (the chip buttons). */
  function addStepFromValue(column, value, type) {
    if (!state.form) { toast('The form cannot show this query: edit the JSON instead.'); return; }
    state.form.steps.push({ negative: false, within: null, useFilters: false, filters: [{ column, op: '==', value: textToLiteral(value, type) }] });
    syncToJson();
    renderForm();
    toast(`Added step: ${column} == ${value}`);
  }

  function addStep() {
    if (!state.form) return;
    const steps = state.form.steps;
    const prev = steps.length ? steps[steps.length - 1].filters[0] : null;
    let column = prev ? prev.column : defaultStepColumn();
    let value = prev ? prev.value : '""';
    const tv = topValues(column);
    if (tv.length) {
      const used = new Set(steps.flatMap((x) => x.filters.filter((f) => f.column === column).map((f) => literalText(f.value))));
      value = textToLiteral(tv.find((v) => !used.has(v)) ?? tv[0], columnsOf()[column]);
    }
    if (!column) column = 'event';
    steps.push({ negative: false, within: null, useFilters: false, filters: [{ column, op: prev ? prev.op : '==', value }] });
    syncToJson();
    renderForm();
    const el = $(`#funnel-form [data-key="s${steps.length - 1}-f0-value"]`);
    if (el) el.focus();
  }

  /** The column a new funnel starts with: a categorical one with several top values. */
  function defaultStepColumn() {
    const sc = state.schema;
    if (!sc) return null;
    const cands = [...(sc.sourceCategoricals || []), ...(sc.potentialCategoricals || [])]
      .filter((c) => topValues(c).length >= 2);
    return cands.find((c) => /event|action|type/i.test(c)) || cands[0] || Object.keys(sc.columns || {})[0] || null;
  }

  function defaultQueryText() {
    const col = defaultStepColumn();
    if (!col) return '{}\n';
    const type = columnsOf()[col];
    const steps = topValues(col).slice(0, 3).map((v) => ({ filter: [col, '==', new Raw(textToLiteral(v, type))] }));
    return pretty(fromJS({ funnel: { sequence: steps } })) + '\n';
  }

  function newFunnel() {
    const text = editor().value;
    const parsed = text.trim() ? tryParse(text) : { tree: null };
    const def = defaultQueryText();
    if (parsed.tree && parsed.tree.t === 'o') {
      const f = getNode(tryParse(def).tree, 'funnel');
      const entries = parsed.tree.entries.filter((e) => e.key !== 'funnel');
      if (f) entries.push({ key: 'funnel', node: f });
      setEditorText(pretty({ t: 'o', entries }) + '\n');
    } else {
      setEditorText(def);
    }
    state.durUnits = {};
    syncFromJson();
  }

  // ---------------------------------------------------------------------------------------
  // 5. Running a query
  // ---------------------------------------------------------------------------------------

  function setProgress(text, attrs = {}, fraction = null) {
    const p = $('#progress');
    p.textContent = text;
    for (const k of ['done', 'total', 'rows', 'stage']) {
      if (attrs[k] === undefined) delete p.dataset[k];
      else p.dataset[k] = attrs[k];
    }
    const bar = $('#progress-bar');
    bar.dataset.active = fraction === null ? 'false' : 'true';
    const pct = Math.round(100 * (fraction ?? 0));
    bar.setAttribute('aria-valuenow', String(pct));
    bar.firstElementChild.style.width = pct + '%';
  }

  /** A progress line {message, stage, tasks: {QUEUED, LOADING_DATA, RUNNING_QUERY, ENDED_SUCCESS, ENDED_FAILED}}. */
  function onProgress(line, started) {
    const t = line.tasks || {};
    const total = Object.values(t).reduce((a, b) => a + (Number(b) || 0), 0);
    const done = Number(t.ENDED_SUCCESS || 0);
    // Rows are not in the progress lines today; shown if a later API version adds them.
    const rows = line.rows ?? line.scannedRows ?? null;
    const secs = ((performance.now() - started) / 1000).toFixed(1);
    if (!total) {
      // STARTING and DONE lines carry no counts: DONE keeps the last ones.
      const last = onProgress.last;
      if (line.stage === 'DONE' && last) {
        setProgress(`${last.done}/${last.total} tasks · merging results…`, { done: last.done, total: last.total, stage: 'DONE' }, 1);
      } else {
        setProgress('Starting…', { stage: line.stage }, 0.02);
      }
      return;
    }
    onProgress.last = { done, total };
    const head = `${done}/${total} tasks` + (rows !== null ? `, ${fmtInt(rows)} rows` : '');
    const busy = [];
    if (t.QUEUED) busy.push(`${t.QUEUED} queued`);
    if (t.LOADING_DATA) busy.push(`${t.LOADING_DATA} loading`);
    if (t.RUNNING_QUERY || t.RUNNING) busy.push(`${(t.RUNNING_QUERY || 0) + (t.RUNNING || 0)} running`);
    if (t.ENDED_FAILED) busy.push(`${t.ENDED_FAILED} failed`);
    setProgress(`${head}${busy.length ? ' · ' + busy.join(', ') : ''} · ${secs}s`,
      { done, total, rows: rows ?? undefined, stage: line.stage }, Math.max(0.02, done / total));
  }

  async function runQuery() {
    if (state.running) return;
    const d = state.dataset;
    if (!d) { showGeneralError('Pick a dataset first.'); return; }
    const text = editor().value.trim() ? editor().value : '{}';
    clearErrors();
    updateHash();
    setState('running');
    const ctrl = new AbortController();
    state.running = ctrl;
    $('#run-button').disabled = true;
    $('#run-button').textContent = 'Running…';
    $('#cancel-button').hidden = false;
    $('#results').classList.add('stale');
    const started = performance.now();
    setProgress('Starting…', { stage: 'STARTING' }, 0.02);
    onProgress.last = null;
    const parsedRun = tryParse(text);
    let final = null, status = 0;
    state.lastRawText = null;
    try {
      const resp = await fetch(apiUrl(`datasets/${encodeURIComponent(d.name)}/query?stream=true`), {
        method: 'POST', body: text, signal: ctrl.signal,
        headers: { 'content-type': 'application/json', accept: 'application/x-ndjson, application/json' },
      });
      status = resp.status;
      const ctype = resp.headers.get('content-type') || '';
      if (resp.ok && ctype.includes('ndjson') && resp.body) {
        final = await readStream(resp.body, (line) => onProgress(line, started));
      } else {
        // Errors before the job starts come as one JSON body with their status; a buffering
        // proxy may also return the NDJSON at once.
        const body = await resp.text();
        const lines = body.split('\n').filter((l) => l.trim());
        for (const l of lines) {
          let obj = null;
          try { obj = JSON.parse(l); } catch (_) { /* not JSON */ }
          if (obj && 'success' in obj) { final = obj; state.lastRawText = l; }
          else if (obj && obj.stage) onProgress(obj, started);
        }
        if (!final) final = { success: false, errorMessage: `HTTP ${resp.status} ${resp.statusText}: ${body.slice(0, 300) || 'no body'}` };
      }
      if (!final) final = { success: false, errorMessage: 'The response ended before the final result (connection closed?).' };
    } catch (e) {
      state.running = null;
      $('#run-button').disabled = false;
      $('#run-button').textContent = 'Run query';
      $('#cancel-button').hidden = true;
      $('#results').classList.remove('stale');
      if (e.name === 'AbortError') {
        setProgress('Cancelled', { stage: 'CANCELLED' });
        setState('idle');
      } else {
        setProgress('Failed', { stage: 'FAILED' });
        showGeneralError(`Cannot reach the API: ${e.message}`);
        setState('error');
      }
      return;
    }
    state.running = null;
    $('#run-button').disabled = false;
    $('#run-button').textContent = 'Run query';
    $('#cancel-button').hidden = true;
    $('#results').classList.remove('stale');
    state.lastResponse = final;
    api.lastResponse = final;
    if (final.success) {
      state.lastRunQuery = parsedRun.tree || null;
      const st = final.stats || {};
      const total = st.invoker ? st.invoker.totalTasks : st.dataset ? st.dataset.parts : undefined;
      const rows = st.worker ? st.worker.scannedRows : undefined;
      const secs = st.totalTime ?? (performance.now() - started) / 1000;
      setProgress(`${total !== undefined ? `${fmtInt(total)}/${fmtInt(total)} tasks` : 'Done'}${rows !== undefined ? `, ${fmtInt(rows)} rows` : ''} · ${fmtSeconds(secs)}`,
        { done: total, total, rows, stage: 'DONE' }, 1);
      renderResults(final);
      setState('done');
    } else {
      setProgress('Failed', { stage: 'FAILED' });
      showFailure(status, final);
      setState('error');
    }
  }

  /** Reads NDJSON lines; calls onLine for progress lines, returns the final envelope. */
  async function readStream(body, onLine) {
    const reader = body.getReader();
    const dec = new TextDecoder();
    let buf = '', final = null;
    const handle = (line) => {
      if (!line.trim()) return;
      let obj;
      try { obj = JSON.parse(line); } catch (_) { return; }
      if (obj && typeof obj === 'object' && 'success' in obj) { final = obj; state.lastRawText = line; }
      else if (obj && obj.stage) onLine(obj);
    };
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += dec.decode(value, { stream: true });
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        handle(buf.slice(0, nl));
        buf = buf.slice(nl + 1);
      }
    }
    handle(buf + dec.decode());
    return final;
  }

  // ---------------------------------------------------------------------------------------
  // 6. Errors at their JSON paths
  // ---------------------------------------------------------------------------------------

  /**
   * Splits "query is invalid (N errors): path: message; path: message" into [{path, message}].
   * Messages may contain "; " themselves ("...; allowed: ==, !="), so a boundary is "; " then
   * a path that starts at query/funnel/timeframe or (root), or an unknown top-level key; the
   * header's count confirms the split.
   */
  function parseValidationErrors(msg) {
    const head = /^query is invalid \((\d+) errors?\): ([\s\S]*)$/.exec(msg || '');
    if (!head) return null;
    const n = Number(head[1]), body = head[2];
    const re = /(^|; )(\(root\)|[^\s:;]+): /g;
    const all = [];
    let x;
    while ((x = re.exec(body))) {
      const start = x.index + x[1].length;
      const path = x[2], msgStart = start + path.length + 2;
      const strong = path === '(root)' || /^(query|funnel|timeframe)(\.|\[|$)/.test(path) ||
        body.startsWith(`unknown key '`, msgStart);
      all.push({ start, path, msgStart, strong });
      re.lastIndex = msgStart;
    }
    let picked = all.filter((c, k) => c.strong || k === 0);
    if (picked.length !== n && all.length === n) picked = all;
    if (!picked.length) return [{ path: '(root)', message: body }];
    return picked.map((c, k) => ({
      path: c.path,
      message: body.slice(c.msgStart, k + 1 < picked.length ? picked[k + 1].start - 2 : body.length),
    }));
  }

  function clearErrors() {
    state.errors = [];
    state.generalError = null;
    api.errors = [];
    renderErrors();
  }

  function showGeneralError(message) {
    state.generalError = message;
    renderErrors();
  }

  function showFailure(status, env) {
    const msg = env.errorMessage || 'unknown error';
    // The API lists a query's validation errors one by one in `errors`; older servers (and
    // malformed JSON typed here) only have the message, split by parseValidationErrors.
    const listed = Array.isArray(env.errors) && env.errors.length
      ? env.errors.map((e) => ({ path: e.path || '(root)', message: String(e.message) }))
      : null;
    const errs = listed || (status === 400 || status === 0 || status === 200 ? parseValidationErrors(msg) : null);
    if (errs) {
      state.errors = errs;
      api.errors = errs;
      renderErrors();
    } else {
      const kind = { 404: 'Not found', 413: 'Query too large', 502: 'A part could not be read', 503: 'Service unavailable (try again shortly)', 504: 'Timed out' }[status];
      showGeneralError(`${kind ? kind + ': ' : ''}${msg}${status ? ` (HTTP ${status})` : ''}${env.requestId ? ` · request ${env.requestId}` : ''}`);
    }
    $('#results-body').hidden = true;
    $('#results-empty').hidden = false;
    $('#results-empty').textContent = 'The query failed: see the errors beside the JSON.';
    $('#summary').replaceChildren();
  }

  /** The text range an error path points at (its nearest existing ancestor), or null. */
  function errorRange(path, message) {
    const text = editor().value;
    if (path === '(root)') {
      const m = /line (\d+) column (\d+)/.exec(message);
      if (!m) return null;
      const lines = text.split('\n');
      let off = 0;
      for (let k = 0; k < Number(m[1]) - 1 && k < lines.length; k++) off += lines[k].length + 1;
      off = Math.min(text.length, off + Math.max(0, Number(m[2]) - 1));
      return [off, Math.min(text.length + 1, off + 1)];
    }
    for (let p = path; p; p = parentPath(p)) if (state.spans.has(p)) return state.spans.get(p);
    return null;
  }

  function renderErrors() {
    const box = $('#errors-box');
    const ul = $('#errors');
    ul.replaceChildren();
    if (state.generalError) {
      ul.append(h('li', { class: 'error-general', 'data-kind': 'error' }, h('span', { class: 'err-msg' }, state.generalError)));
    }
    for (const e of state.errors) {
      ul.append(h('li', { 'data-path': e.path },
        h('button', { type: 'button', class: 'err-path', title: 'Show in the JSON', onclick: () => revealError(e) }, e.path),
        h('span', { class: 'err-msg' }, e.message)));
    }
    $('#errors-heading').textContent = state.errors.length
      ? `${state.errors.length} validation error${state.errors.length === 1 ? '' : 's'}` : 'Error';
    box.hidden = !state.errors.length && !state.generalError;
    refreshEditor();
    applyFormErrors();
  }

  /** Selects an error's range in the JSON and scrolls to it. */
  function revealError(e) {
    const ta = editor();
    const r = errorRange(e.path, e.message);
    ta.focus();
    if (!r) return;
    ta.setSelectionRange(r[0], Math.min(r[1], ta.value.length));
    const line = ta.value.slice(0, r[0]).split('\n').length;
    const lh = parseFloat(getComputedStyle(ta).lineHeight) || 18;
    ta.scrollTop = Math.max(0, (line - 3) * lh);
    syncBackdropScroll();
  }

  /** Marks the form controls whose data-path an error names (or the nearest ancestor shown). */
  function applyFormErrors() {
    const form = $('#funnel-form');
    $$('[aria-invalid="true"]', form).forEach((el) => el.removeAttribute('aria-invalid'));
    if (state.binsInvalid) $('#conversion-bins').setAttribute('aria-invalid', 'true');
    $$('.invalid', form).forEach((el) => el.classList.remove('invalid'));
    $$('.field-error', form).forEach((el) => el.remove());
    if (!state.form) return;
    for (const e of state.errors) {
      for (let p = e.path; p && p !== 'funnel'; p = parentPath(p)) {
        const els = $$(`[data-path="${CSS.escape(p)}"]`, form);
        if (!els.length) continue;
        for (const el of els) {
          el.classList.add('invalid');
          const controls = el.matches('input, select') ? [el] : $$('input, select', el);
          controls.forEach((c) => c.setAttribute('aria-invalid', 'true'));
        }
        const host = els[0].closest('.filter-row, .within, .option-row, .step-editor') || els[0];
        const note = h('p', { class: 'field-error' }, e.message);
        if (host.tagName === 'OL') host.after(note); else host.append(note);
        break;
      }
    }
  }

  /** Redraws the layer behind the textarea: the same text, error ranges marked. */
  function refreshEditor() {
    const text = editor().value;
    const parsed = text.trim() ? tryParse(text) : { tree: null };
    state.spans = parsed.tree ? pathSpans(parsed.tree) : new Map();
    const ranges = state.errors.map((e) => errorRange(e.path, e.message)).filter(Boolean).sort((a, b) => a[0] - b[0] || b[1] - a[1]);
    const back = $('#editor-backdrop');
    const frag = document.createDocumentFragment();
    let pos = 0;
    const padded = text + ' '; // a mark at the very end needs a character
    for (const [a, b] of ranges) {
      if (a < pos) continue; // nested or overlapping: the outer one is marked
      frag.append(padded.slice(pos, a), h('mark', {}, padded.slice(a, b)));
      pos = b;
    }
    frag.append(padded.slice(pos), '\n');
    back.replaceChildren(frag);
    syncBackdropScroll();
  }

  function syncBackdropScroll() {
    const ta = editor(), back = $('#editor-backdrop');
    back.scrollTop = ta.scrollTop;
    back.scrollLeft = ta.scrollLeft;
  }

  // ---------------------------------------------------------------------------------------
  // 7. Results
  // ---------------------------------------------------------------------------------------

  /** Labels of the reported steps: positive steps, each with the negative steps before it. */
  function funnelStepLabels(queryTree) {
    const seq = getNode(getNode(queryTree, 'funnel'), 'sequence');
    if (!seq || seq.t !== 'a') return [];
    const describe = (stepNode) => {
      const st = toJS(stepNode);
      const fs = st.filters || (st.filter ? [st.filter] : []);
      const parts = fs.map((f) => (Array.isArray(f) ? f : [f.column, f.op, f.value]));
      const title = parts.length === 1 && parts[0][1] === '==' ? String(parts[0][2])
        : parts.map(([c, o, v]) => `${c} ${o} ${JSON.stringify(v)}`).join(' and ');
      const detail = parts.map(([c, o, v]) => `${c} ${o} ${JSON.stringify(v)}`).join(' and ');
      return { title, detail, negative: st.rowFound === false, within: st.within };
    };
    const labels = [];
    let pendingNeg = [];
    for (const item of seq.items) {
      const d = describe(item);
      if (d.negative) { pendingNeg.push(d.title); continue; }
      labels.push({ ...d, without: pendingNeg });
      pendingNeg = [];
    }
    if (pendingNeg.length && labels.length) labels[labels.length - 1].withoutAfter = pendingNeg;
    return labels;
  }

  const narrowMq = window.matchMedia('(max-width: 640px)');

  function renderResults(env) {
    $('#results-empty').hidden = true;
    $('#results-body').hidden = false;
    const q = env.query || {};
    const st = env.stats || {};
    $('#summary').replaceChildren(
      h('span', { class: 'pill' }, h('b', {}, fmtInt(q.matchingGroups)), ' groups'),
      h('span', { class: 'pill' }, h('b', {}, fmtInt(q.matchingGroupRows)), ' rows'),
      st.totalTime !== undefined ? h('span', { class: 'pill' }, fmtSeconds(st.totalTime)) : null);
    renderFunnel(env);
    renderConversion(env);
    renderAggregations(env);
    renderStats(env);
    // Pretty-printed from the response's own text, so that numbers print exactly as sent.
    const raw = state.lastRawText ? tryParse(state.lastRawText) : {};
    $('#raw-json').textContent = raw.tree ? pretty(raw.tree) : JSON.stringify(env, null, 2);
  }

  function renderFunnel(env) {
    const el = $('#funnel-chart');
    const block = $('#funnel-block');
    const seq = env.funnel && env.funnel.sequence;
    if (!seq) {
      block.hidden = true;
      el.replaceChildren();
      return;
    }
    block.hidden = false;
    const labels = funnelStepLabels(state.lastRunQuery);
    const first = seq.length ? seq[0].matchingGroups : 0;
    const narrow = narrowMq.matches;
    el.classList.toggle('horizontal', narrow);
    const last = seq.length ? seq[seq.length - 1].matchingGroups : 0;
    const head = h('p', { class: 'funnel-summary' },
      'Overall conversion ', h('b', {}, fmtPct(last, first)),
      ` · ${fmtInt(last)} of ${fmtInt(first)} groups reached the last step`,
      seq.length ? '' : ' (no steps)');
    const steps = seq.map((stp, i) => {
      const n = stp.matchingGroups;
      const prev = i > 0 ? seq[i - 1].matchingGroups : n;
      const pct = first ? (100 * n) / first : 0;
      const prevPct = first ? (100 * prev) / first : 0;
      const lab = labels[i] || { title: `Step ${i + 1}`, detail: '', without: [] };
      const bar = narrow
        ? s('svg', { class: 'fbar-svg', viewBox: '0 0 100 10', preserveAspectRatio: 'none', 'aria-hidden': 'true', focusable: 'false' },
          s('rect', { class: 'fbar-track', x: 0, y: 0, width: 100, height: 10 }),
          i > 0 ? s('rect', { class: 'fbar-ghost', x: 0, y: 0, width: prevPct, height: 10 }) : null,
          s('rect', { class: 'fbar', x: 0, y: 0, width: pct, height: 10 }))
        : s('svg', { class: 'fbar-svg', viewBox: '0 0 100 100', preserveAspectRatio: 'none', 'aria-hidden': 'true', focusable: 'false' },
          s('rect', { class: 'fbar-track', x: 0, y: 0, width: 100, height: 100 }),
          i > 0 ? s('rect', { class: 'fbar-ghost', x: 0, y: 100 - prevPct, width: 100, height: prevPct }) : null,
          s('rect', { class: 'fbar', x: 0, y: 100 - pct, width: 100, height: pct }));
      const notes = [];
      if (lab.without && lab.without.length) notes.push(`without ${lab.without.join(' or ')} before`);
      if (lab.withoutAfter && lab.withoutAfter.length) notes.push(`and no ${lab.withoutAfter.join(' or ')} after`);
      if (lab.within !== undefined && lab.within !== null) {
        notes.push(`within ${typeof lab.within === 'number' ? formatDuration(lab.within, state.timeUnit) : lab.within}`);
      }
      const drop = prev - n;
      return h('div', {
        class: 'fstep', 'data-step': i, 'data-groups': n, 'data-rows': stp.matchingGroupRows, role: 'group',
        'aria-label': `Step ${i + 1}, ${lab.title}: ${fmtInt(n)} groups, ${fmtPct(n, first)} of the first step`,
      },
      h('div', { class: 'fstep-head' },
        h('span', { class: 'fstep-num' }, String(i + 1)),
        h('span', { class: 'fstep-title', title: lab.detail }, lab.title)),
      h('div', { class: 'fstep-sub' }, notes.join(' · ') || lab.detail || '\u00a0'),
      h('div', { class: 'fbar-wrap' }, bar, h('span', { class: 'fbar-pct' }, fmtPct(n, first))),
      h('div', { class: 'fstep-groups' }, h('b', { 'data-metric': 'groups' }, fmtInt(n)), ' groups',
        h('span', { class: 'muted' }, ` · ${fmtInt(stp.matchingGroupRows)} rows`)),
      h('ul', { class: 'fstep-metrics' },
        h('li', { 'data-metric': 'of-first' }, h('b', {}, fmtPct(n, first)), ' of first'),
        i > 0 ? h('li', { 'data-metric': 'of-previous' }, h('b', {}, fmtPct(n, prev)), ' of previous') : null,
        i > 0 ? h('li', { 'data-metric': 'drop-off', class: 'drop' }, h('b', {}, '−' + fmtInt(drop)), ` dropped (${fmtPct(drop, prev)})`) : null));
    });
    el.style.setProperty('--steps', String(Math.max(1, seq.length)));
    el.replaceChildren(head, h('div', { class: 'fsteps' }, steps));
  }

  function renderConversion(env) {
    const el = $('#conversion-time');
    const block = $('#conversion-block');
    const seq = (env.funnel && env.funnel.sequence) || [];
    const labels = funnelStepLabels(state.lastRunQuery);
    const cards = [];
    seq.forEach((stp, k) => {
      const ct = stp.conversionTime;
      if (!ct) return;
      const unit = state.timeUnit;
      const stat = (key, label) => h('div', { class: 'conv-stat' },
        h('dt', {}, label),
        h('dd', { 'data-stat': key, 'data-value': ct[key] ?? '', title: ct[key] === null || ct[key] === undefined ? '' : `${ct[key]} (${unit})` },
          formatDuration(ct[key], unit)));
      const title = `${(labels[0] && labels[0].title) || 'Step 1'} → ${(labels[k] && labels[k].title) || 'step ' + (k + 1)}`;
      cards.push(h('div', { class: 'conv-card', 'data-step': k, 'data-groups': ct.groups },
        h('h4', { class: 'conv-title' }, h('span', { class: 'fstep-num' }, String(k + 1)), title),
        h('p', { class: 'muted small' }, `${fmtInt(ct.groups)} groups converted; percentiles within ${fmtPct(ct.relativeError || 0, 1)}`),
        h('dl', { class: 'conv-stats' },
          stat('p50', 'median'), stat('p90', 'p90'), stat('p99', 'p99'), stat('mean', 'mean'), stat('min', 'min'), stat('max', 'max')),
        ct.histogram ? histogram(ct.histogram, ct.groups, k) : null));
    });
    block.hidden = !cards.length;
    el.replaceChildren(...cards);
  }

  /** A column chart of a conversion-time histogram ({lessThan, groups} bins). */
  function histogram(bins, total, step) {
    const W = 320, H = 150, top = 18, bottom = 34, left = 4, right = 4;
    const max = Math.max(1, ...bins.map((b) => b.groups));
    const bw = (W - left - right) / bins.length;
    const tok = (v) => formatDuration(v, state.timeUnit);
    const labelEvery = Math.ceil(bins.length / Math.max(1, Math.floor((W - left - right) / 56)));
    const svg = s('svg', {
      class: 'hist', viewBox: `0 0 ${W} ${H}`, role: 'img',
      'aria-label': `Time to convert to step ${step + 1}: ` + bins.map((b, j) => `${binLabel(bins, j, tok)}: ${b.groups}`).join(', '),
    });
    svg.append(s('line', { class: 'hist-axis', x1: left, x2: W - right, y1: H - bottom, y2: H - bottom }));
    bins.forEach((b, j) => {
      const hgt = ((H - top - bottom) * b.groups) / max;
      const x = left + j * bw;
      const g = s('g', { class: 'hist-bin', 'data-bin': j, 'data-groups': b.groups, 'data-less-than': b.lessThan ?? '' },
        s('title', {}, `${binLabel(bins, j, tok)}: ${fmtInt(b.groups)} groups (${fmtPct(b.groups, total)})`),
        s('rect', { x: x + bw * 0.12, y: H - bottom - hgt, width: bw * 0.76, height: Math.max(hgt, b.groups ? 1 : 0), rx: 2 }),
        s('text', { class: 'hist-count', x: x + bw / 2, y: H - bottom - hgt - 5, 'text-anchor': 'middle' }, fmtInt(b.groups)));
      if (j % labelEvery === 0) {
        g.append(s('text', { class: 'hist-label', x: x + bw / 2, y: H - bottom + 14, 'text-anchor': 'middle' }, binLabel(bins, j, tok)));
        g.append(s('text', { class: 'hist-pct', x: x + bw / 2, y: H - bottom + 27, 'text-anchor': 'middle' }, fmtPct(b.groups, total)));
      }
      svg.append(g);
    });
    return svg;
  }

  function binLabel(bins, j, tok) {
    const lo = j > 0 ? bins[j - 1].lessThan : null, hi = bins[j].lessThan;
    if (lo === null && hi === null) return 'all';
    if (lo === null) return `< ${tok(hi)}`;
    if (hi === null) return `≥ ${tok(lo)}`;
    return `${tok(lo)}–${tok(hi)}`;
  }

  function renderAggregations(env) {
    const el = $('#aggregations');
    const labels = funnelStepLabels(state.lastRunQuery);
    const q = env.query || {};
    const seq = (env.funnel && env.funnel.sequence) || [];
    const group = (scope, title, aggs, totals) => h('details', { class: 'agg-group', 'data-scope': scope, open: true },
      h('summary', {}, title, h('span', { class: 'muted' }, ` · ${fmtInt(totals.groups)} groups`)),
      h('div', { class: 'agg-grid' }, aggs.map((a) => aggCard(a, totals))));
    const parts = [];
    if (q.aggregations && q.aggregations.length) {
      parts.push(group('query', 'Matching groups', q.aggregations, { groups: q.matchingGroups, rows: q.matchingGroupRows }));
    }
    // Step aggregations side by side, one column per step, to compare the steps.
    const steps = seq.map((stp, i) => (stp.aggregations && stp.aggregations.length
      ? group('step-' + i, `Step ${i + 1} · ${(labels[i] && labels[i].title) || ''}`, stp.aggregations,
        { groups: stp.matchingGroups, rows: stp.matchingGroupRows })
      : null)).filter(Boolean);
    if (steps.length) parts.push(h('div', { class: 'agg-steps', style: `--cols:${Math.min(steps.length, 4)}` }, steps));
    const endAggs = env.funnel && env.funnel.endAggregations;
    if (endAggs && endAggs.length) {
      const last = seq[seq.length - 1] || {};
      parts.push(group('end', 'End of funnel', endAggs, { groups: last.matchingGroups, rows: last.matchingGroupRows }));
    }
    if (!parts.length) {
      el.replaceChildren(h('p', { class: 'muted' }, 'No aggregations requested. Add ',
        h('code', {}, '"aggregations"'), ' to the query, or ', h('code', {}, '"stepAggregations"'), ' / ',
        h('code', {}, '"endAggregations"'), ' to the funnel.'));
      return;
    }
    el.replaceChildren(...parts);
  }

  /** One aggregation: a number, or a bar list of its map (shares of the scope's rows or groups). */
  function aggCard(a, totals) {
    const title = h('h4', { class: 'agg-title' },
      a.name ? h('span', {}, a.name, ' ') : null,
      h('code', {}, a.column), ' ', h('span', { class: 'type-badge' }, a.type),
      a.approximate ? h('span', { class: 'warn-badge', title: 'a part returned a truncated partial' }, 'approximate') : null);
    const card = h('div', { class: 'agg', 'data-column': a.column, 'data-type': a.type, 'data-name': a.name || null }, title);
    const v = a.value;
    if (v === null || typeof v !== 'object') {
      card.append(h('p', { class: 'agg-number', 'data-value': v ?? '' }, fmtNum(v)));
      return card;
    }
    const entries = Object.entries(v); // already ordered by value desc, then key
    if (!entries.length) {
      card.append(h('p', { class: 'muted' }, 'no values'));
      return card;
    }
    const max = Math.max(...entries.map(([, x]) => Math.abs(Number(x)) || 0), 1e-300);
    // countPerValue: share of the scope's rows; groupsPerValue: of its groups.
    const total = { countPerValue: totals.rows, groupsPerValue: totals.groups }[a.type];
    const showShare = !!total;
    card.append(h('ol', { class: 'barlist' }, entries.map(([k, x]) => h('li', { 'data-key': k, 'data-value': x },
      h('div', { class: 'bar-label' },
        h('span', { class: 'bar-key', title: k }, k),
        h('span', { class: 'bar-value' }, fmtNum(Number(x)), showShare ? h('small', {}, ' ' + fmtPct(Number(x), total)) : null)),
      h('div', { class: 'bar-track', 'aria-hidden': 'true' },
        h('span', { class: 'bar-fill', style: `width:${Math.max(0.5, (100 * Math.abs(Number(x))) / max).toFixed(2)}%` }))))));
    if (a.top !== null && a.top !== undefined && entries.length >= a.top) {
      card.append(h('p', { class: 'muted small' }, `top ${a.top}`));
    }
    return card;
  }

  function renderStats(env) {
    const st = env.stats || {};
    const inv = st.invoker || {}, wk = st.worker || {}, ds = st.dataset || {};
    const cache = wk.cache || {};
    const items = [
      ['totalTime', 'Time', fmtSeconds(st.totalTime)],
      ['parts', 'Parts', fmtInt(ds.parts)],
      ['totalTasks', 'Tasks', inv.totalTasks !== undefined
        ? `${fmtInt(inv.totalTasks)}${inv.failedTasks ? `, ${inv.failedTasks} failed` : ''}${inv.retriedTasks ? `, ${inv.retriedTasks} retried` : ''}` : '–'],
      ['scannedRows', 'Rows scanned', fmtInt(wk.scannedRows)],
      ['scannedGroups', 'Groups scanned', fmtInt(wk.scannedGroups)],
      ['totalSize', 'Dataset size', fmtBytes(ds.totalSize)],
    ];
    if (wk.loadTime && wk.loadTime.mean !== undefined) items.push(['loadTime', 'Load time (mean)', fmtSeconds(wk.loadTime.mean)]);
    if (wk.coldTasks !== undefined) items.push(['warmTasks', 'Warm / cold tasks', `${fmtInt(wk.warmTasks)} / ${fmtInt(wk.coldTasks)}`]);
    if (cache.source !== undefined) items.push(['cache', 'Parts from source / cache', `${fmtInt(cache.source)} / ${fmtInt(cache.diskCache)}`]);
    if (cache.bytesFromSource || cache.bytesFromCache) items.push(['bytes', 'Bytes source / cache', `${fmtBytes(cache.bytesFromSource)} / ${fmtBytes(cache.bytesFromCache)}`]);
    if (st.cost !== null && st.cost !== undefined) items.push(['cost', 'Cost', '$' + Number(st.cost).toPrecision(3)]);
    items.push(['requestId', 'Request id', h('code', { class: 'break' }, env.requestId || '–')]);
    $('#stats').replaceChildren(...items.map(([k, label, v]) => h('div', { class: 'stat' }, h('dt', {}, label), h('dd', { 'data-stat': k }, v))));
  }

  // ---------------------------------------------------------------------------------------
  // 8. Sharing: URL fragment, copy link / curl / CLI
  // ---------------------------------------------------------------------------------------

  /** The query as one tight line (the text itself when it does not parse). */
  function compactQuery() {
    const text = editor().value;
    if (!text.trim()) return '{}';
    const p = tryParse(text);
    return p.tree ? compact(p.tree, true) : text;
  }

  function shareHash() {
    const name = state.dataset ? state.dataset.name : $('#dataset-select').value;
    return `#dataset=${encodeURIComponent(name || '')}&query=${encodeURIComponent(compactQuery())}`;
  }

  function updateHash() {
    history.replaceState(null, '', location.pathname + location.search + shareHash());
  }

  /** Reads #dataset=NAME&query=JSON (values URL-encoded; '+' is not a space here). */
  function readHash() {
    const out = {};
    for (const part of location.hash.replace(/^#/, '').split('&')) {
      const k = part.indexOf('=');
      if (k < 0) continue;
      try { out[part.slice(0, k)] = decodeURIComponent(part.slice(k + 1)); } catch (_) { /* bad escape */ }
    }
    return out;
  }

  const shq = (s) => "'" + s.replace(/'/g, "'\\''") + "'";

  function curlCommand() {
    const name = state.dataset ? state.dataset.name : '';
    return `curl -sS -X POST ${shq(absoluteApiUrl(`datasets/${encodeURIComponent(name)}/query`))} \\\n` +
      `  -H 'content-type: application/json' \\\n  --data-binary ${shq(compactQuery())}`;
  }

  function cliCommand() {
    const name = state.dataset ? state.dataset.name : 'NAME';
    const text = editor().value.trim() ? editor().value : '{}';
    const p = tryParse(text);
    const body = p.tree ? pretty(p.tree) : text.replace(/\n+$/, '');
    let delim = 'JSON';
    while (body.split('\n').includes(delim)) delim += '_';
    return `frocket run ${/^[A-Za-z0-9_.-]+$/.test(name) ? name : shq(name)} --file - <<'${delim}'\n${body}\n${delim}`;
  }

  async function copyText(text, what) {
    const box = $('#copy-box');
    const out = $('#copy-output');
    out.value = text;
    out.rows = Math.min(10, text.split('\n').length + 1);
    box.hidden = false;
    $('#copy-label').textContent = what;
    let ok = false;
    try {
      if (navigator.clipboard && window.isSecureContext) {
        await navigator.clipboard.writeText(text);
        ok = true;
      }
    } catch (_) { /* permission denied: fall back below */ }
    if (!ok) {
      out.focus();
      out.select();
      try { ok = document.execCommand('copy'); } catch (_) { ok = false; }
    }
    toast(ok ? `${what} copied to the clipboard` : `${what}: select the text below and copy it`);
  }

  // ---------------------------------------------------------------------------------------
  // Start
  // ---------------------------------------------------------------------------------------

  async function applyHash(autoRun) {
    const hv = readHash();
    if (hv.query !== undefined) {
      const p = tryParse(hv.query);
      setEditorText(p.tree ? pretty(p.tree) + '\n' : hv.query);
    }
    if (hv.dataset) {
      if (!state.datasets.some((d) => d.name === hv.dataset)) {
        showGeneralError(`The link names the dataset '${hv.dataset}', which is not registered here.`);
        syncFromJson();
        return;
      }
      const loading = selectDataset(hv.dataset);
      syncFromJson();
      if (autoRun && hv.query !== undefined) runQuery();
      await loading;
    }
    syncFromJson();
  }

  async function init() {
    const ta = editor();
    ta.addEventListener('input', () => { refreshEditor(); onEditorInput(); });
    ta.addEventListener('scroll', syncBackdropScroll);
    document.addEventListener('keydown', (e) => {
      if ((e.ctrlKey || e.metaKey) && e.key === 'Enter') { e.preventDefault(); runQuery(); }
      if (e.key === 'Escape' && state.running) state.running.abort();
    });
    const form = $('#funnel-form');
    form.addEventListener('submit', (e) => e.preventDefault());
    for (const type of ['input', 'change', 'click']) {
      $('#funnel-steps').addEventListener(type, onFormEvent);
      $('#max-duration').addEventListener(type, onFormEvent);
      $('#hold-constant').addEventListener(type, onFormEvent);
    }
    for (const type of ['input', 'change']) {
      $('#order-select').addEventListener(type, onOptionEvent);
      $('#conversion-enabled').addEventListener(type, onOptionEvent);
      $('#conversion-bins').addEventListener(type, onOptionEvent);
    }
    $('#add-step').addEventListener('click', addStep);
    $('#new-funnel').addEventListener('click', newFunnel);
    $('#format-json').addEventListener('click', () => {
      const p = tryParse(editor().value);
      if (p.tree) setEditorText(pretty(p.tree) + '\n');
      else toast(`Cannot format: ${p.error}`);
    });
    $('#run-button').addEventListener('click', runQuery);
    $('#cancel-button').addEventListener('click', () => state.running && state.running.abort());
    $('#dataset-select').addEventListener('change', async (e) => {
      const prev = editor().value;
      await selectDataset(e.target.value);
      // A query still equal to the previous dataset's default becomes this one's default.
      if (!prev.trim() || prev === state.defaultText) {
        state.defaultText = defaultQueryText();
        setEditorText(state.defaultText);
        syncFromJson();
      }
    });
    $('#time-unit').addEventListener('change', (e) => {
      state.timeUnit = e.target.value;
      state.durUnits = {};
      renderDataset();
      renderForm();
      if (state.lastResponse && state.lastResponse.success) renderResults(state.lastResponse);
    });
    $('#copy-link').addEventListener('click', () => copyText(location.origin + location.pathname + location.search + shareHash(), 'Link'));
    $('#copy-curl').addEventListener('click', () => copyText(curlCommand(), 'curl command'));
    $('#copy-cli').addEventListener('click', () => copyText(cliCommand(), 'frocket run command'));
    narrowMq.addEventListener('change', () => {
      if (state.lastResponse && state.lastResponse.success) renderFunnel(state.lastResponse);
    });
    window.addEventListener('hashchange', () => applyHash(true));

    refreshEditor();
    renderForm();
    loadHealth();
    await loadDatasets();
    const hv = readHash();
    if (hv.dataset || hv.query !== undefined) {
      await applyHash(true);
    } else if (state.datasets.length) {
      await selectDataset(state.datasets[0].name);
      state.defaultText = defaultQueryText();
      setEditorText(state.defaultText);
      syncFromJson();
    }
    document.body.dataset.ready = 'true';
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
  else init();
})();
