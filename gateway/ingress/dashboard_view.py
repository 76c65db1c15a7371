"""The dashboard page: one static HTML document with inline CSS and a small inline script
that polls ``dashboard/data.json`` every few seconds and draws the tables and the
throughput chart (inline SVG) with DOM calls only (``textContent``, never ``innerHTML``:
sender-controlled text such as dead-letter messages cannot become markup). No external
resource of any kind; the Content-Security-Policy allows exactly this script and style."""

from __future__ import annotations

import base64
import functools
import hashlib

REFRESH_MS = 5000

STYLE = """
:root { --ink:#1f2933; --muted:#616e7c; --line:#d9e2ec; --bg:#f5f7fa; --card:#fff;
  --accepted:#2563eb; --translated:#0f9d58; --decided:#8e44ad;
  --warn:#b45309; --warn-bg:#fef3c7; --alert:#b91c1c; --alert-bg:#fee2e2; }
* { box-sizing: border-box; }
body { margin:0; font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;
  color:var(--ink); background:var(--bg); }
header { display:flex; flex-wrap:wrap; align-items:baseline; gap:.4rem 1.2rem;
  padding:.9rem 1.5rem; background:#102a43; color:#fff; }
header h1 { font-size:1.25rem; margin:0; font-weight:600; }
header .sub { color:#bcccdc; font-size:.9rem; }
#status { margin-left:auto; font-size:.9rem; padding:.15rem .6rem; border-radius:1rem;
  background:#334e68; }
#status.live { background:#0f7b4a; } #status.lost { background:var(--alert); }
main { display:grid; grid-template-columns:minmax(0,3fr) minmax(0,2fr); gap:1rem;
  padding:1rem 1.5rem 2rem; align-items:start; }
@media (max-width:1000px) { main { grid-template-columns:minmax(0,1fr); } }
.stack { display:flex; flex-direction:column; gap:1rem; min-width:0; }
section { background:var(--card); border:1px solid var(--line); border-radius:.5rem;
  padding:.8rem 1rem 1rem; min-width:0; }
section.wide { grid-column:1/-1; }
h2 { font-size:1.05rem; margin:.1rem 0 .2rem; }
p.help { color:var(--muted); font-size:.85rem; margin:0 0 .6rem; }
#kpis { display:grid; grid-template-columns:repeat(auto-fit,minmax(9.5rem,1fr)); gap:.6rem; }
.kpi { border:1px solid var(--line); border-radius:.4rem; padding:.5rem .7rem; }
.kpi b { display:block; font-size:1.7rem; font-variant-numeric:tabular-nums; }
.kpi span { color:var(--muted); font-size:.85rem; }
.kpi.warn b { color:var(--warn); } .kpi.alert b { color:var(--alert); }
table { border-collapse:collapse; width:100%; font-size:.9rem; }
th, td { text-align:left; padding:.3rem .5rem; border-bottom:1px solid var(--line);
  vertical-align:top; }
th { color:var(--muted); font-weight:600; font-size:.8rem; text-transform:uppercase;
  letter-spacing:.02em; }
td.num, th.num { text-align:right; font-variant-numeric:tabular-nums; }
tbody th { text-transform:none; letter-spacing:0; color:var(--ink); font-size:.92rem;
  white-space:nowrap; }
small.names { display:block; color:var(--muted); font-weight:400; font-size:.78rem; }
.nowrap { white-space:nowrap; }
tr.total td { font-weight:700; border-top:2px solid var(--ink); }
td.warn { color:var(--warn); background:var(--warn-bg); font-weight:600; }
td.alert { color:var(--alert); background:var(--alert-bg); font-weight:600; }
td.mono, span.mono { font-family:ui-monospace,SFMono-Regular,Menlo,monospace; font-size:.85rem; }
td.msg { color:var(--muted); font-size:.82rem; overflow-wrap:anywhere; }
td.empty { color:var(--muted); font-style:italic; }
.chips { display:flex; flex-wrap:wrap; gap:.4rem; margin:.2rem 0 .7rem; }
.chip { border-radius:1rem; padding:.1rem .6rem; font-size:.82rem; background:var(--alert-bg);
  color:var(--alert); }
.chip.dlq { background:#e0e7ff; color:#3730a3; }
.legend { display:flex; gap:1rem; font-size:.85rem; color:var(--muted); margin-bottom:.3rem; }
.legend i { display:inline-block; width:.8rem; height:.8rem; border-radius:.2rem;
  margin-right:.3rem; vertical-align:-.1rem; }
.legend .accepted { background:var(--accepted); }
.legend .translated { background:var(--translated); }
.legend .decided { background:var(--decided); }
svg { width:100%; height:auto; display:block; }
svg rect.accepted { fill:var(--accepted); } svg rect.translated { fill:var(--translated); }
svg rect.decided { fill:var(--decided); }
svg .grid { stroke:var(--line); stroke-width:1; }
svg text { fill:var(--muted); font-size:11px; }
"""

SCRIPT = """
(() => {
  "use strict";
  const REFRESH_MS = @REFRESH_MS@;
  const DATA_URL = location.pathname.replace(/\\/?$/, "/data.json");
  const $ = (id) => document.getElementById(id);
  const SVG = "http://www.w3.org/2000/svg";

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, value);
    for (const child of children) {
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }
  function svg(tag, attrs, text) {
    const node = document.createElementNS(SVG, tag);
    for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
    if (text !== undefined) node.textContent = text;
    return node;
  }
  const when = (iso) => (iso || "").replace("T", " ").replace("Z", " UTC");
  const clock = (iso) => (iso || "").slice(11, 19);
  function num(value, col, level) {
    const cls = "num" + (value > 0 && level ? " " + level : "");
    return el("td", {"class": cls, "data-col": col}, value);
  }
  function empty(tbody, columns, text) {
    tbody.replaceChildren(el("tr", {}, el("td", {"class": "empty", "colspan": columns}, text)));
  }

  const COLUMNS = [["announced", ""], ["matched", ""], ["discrepancies", "warn"],
                   ["overdue", "warn"], ["fraud_signals", "alert"]];

  function pairName(data, pair) {
    const [exporter, importer] = pair.split("->");
    const name = (code) => data.participants[code] || code;
    return el("th", {"scope": "row"}, exporter + " \\u2192 " + importer,
      el("small", {"class": "names"}, name(exporter) + " \\u2192 " + name(importer)));
  }

  function pairs(data) {
    const tbody = $("pairs").tBodies[0];
    if (!data.pairs.length) return empty(tbody, 6, "No certificates yet.");
    const rows = data.pairs.map((p) => el("tr", {"data-pair": p.pair}, pairName(data, p.pair),
      ...COLUMNS.map(([col, level]) => num(p[col], col, level))));
    rows.push(el("tr", {"class": "total", "data-pair": "all"},
      el("td", {"class": "nowrap"}, "All pairs"),
      ...COLUMNS.map(([col]) => num(data.totals[col], col, ""))));
    tbody.replaceChildren(...rows);
  }

  function kpis(data) {
    const t = data.totals;
    const tiles = [["Announced", t.announced, ""], ["Matched", t.matched, ""],
      ["With discrepancies", t.discrepancies, "warn"], ["Overdue", t.overdue, "warn"],
      ["Fraud signals", t.fraud_signals, "alert"],
      ["Dead letters pending", data.dead_letters.pending, "warn"]];
    $("kpis").replaceChildren(...tiles.map(([label, value, level]) =>
      el("div", {"class": "kpi" + (value > 0 && level ? " " + level : "")},
        el("b", {}, value), el("span", {}, label))));
  }

  function signals(data) {
    const s = data.fraud_signals;
    $("signal-kinds").replaceChildren(...s.by_kind.map((k) =>
      el("span", {"class": "chip", "title": k.kind}, k.meaning + " \\u00d7 " + k.count)));
    const tbody = $("signals").tBodies[0];
    if (!s.recent.length) return empty(tbody, 5, "No fraud signals.");
    tbody.replaceChildren(...s.recent.map((r) => el("tr", {"data-certificate": r.certificate_id},
      el("td", {"class": "mono nowrap"}, when(r.at)),
      el("td", {"class": "mono"}, r.certificate_id),
      el("td", {"class": "nowrap"}, r.pair.replace("->", " \\u2192 ")),
      el("td", {"class": "mono"}, r.kind),
      el("td", {"title": r.detail}, r.meaning))));
  }

  function deadLetters(data) {
    const d = data.dead_letters;
    const reasons = $("dlq-reasons").tBodies[0];
    if (!d.by_reason.length) empty(reasons, 4, "The dead-letter queue is empty.");
    else reasons.replaceChildren(...d.by_reason.map((r) => el("tr", {"data-reason": r.reason},
      el("td", {"class": "mono"}, r.reason), num(r.count, "count", ""),
      num(r.pending, "pending", r.pending > 0 ? "warn" : ""),
      el("td", {}, Object.entries(r.senders).map(([s, n]) => s + " " + n).join(", ")))));
    const newest = $("dlq-newest").tBodies[0];
    if (!d.newest.length) return empty(newest, 5, "Nothing dead-lettered.");
    newest.replaceChildren(...d.newest.map((r) => el("tr", {"data-id": r.id},
      el("td", {"class": "mono nowrap"}, r.id), el("td", {"class": "mono nowrap"}, when(r.at)),
      el("td", {}, r.sender), el("td", {"class": "mono"}, r.reason),
      el("td", {"class": "msg"}, r.message))));
  }

  function chart(data) {
    const buckets = data.throughput.buckets, series = data.throughput.series;
    const W = 720, H = 190, L = 34, R = 6, T = 10, B = 24;
    const top = Math.max(4, ...buckets.flatMap((b) => series.map((s) => b[s])));
    const slot = (W - L - R) / buckets.length, bar = (slot - 4) / series.length;
    const y = (v) => T + (H - T - B) * (1 - v / top);
    const root = svg("svg", {"viewBox": `0 0 ${W} ${H}`, "role": "img",
      "aria-label": "documents accepted, translated and decided per 10 seconds"});
    for (const v of [0, Math.round(top / 2), top]) {
      root.append(svg("line", {"class": "grid", x1: L, x2: W - R, y1: y(v), y2: y(v)}));
      root.append(svg("text", {x: L - 6, y: y(v) + 4, "text-anchor": "end"}, v));
    }
    buckets.forEach((b, i) => {
      const ago = (buckets.length - 1 - i) * data.throughput.bucket_seconds;
      if (ago % 60 === 0) {
        const last = i === buckets.length - 1;
        root.append(svg("text", {x: last ? W - R : L + (i + 0.5) * slot, y: H - 6,
          "text-anchor": last ? "end" : "middle"}, ago ? `-${ago / 60} min` : "now"));
      }
      series.forEach((s, k) => {
        if (!b[s]) return;
        const rect = svg("rect", {"class": s, x: L + i * slot + 2 + k * bar, y: y(b[s]),
          width: bar, height: y(0) - y(b[s])});
        rect.append(svg("title", {}, `${clock(b.start)} UTC: ${b[s]} ${s}`));
        root.append(rect);
      });
    });
    $("chart").replaceChildren(root);
  }

  function render(data) {
    kpis(data); pairs(data); signals(data); deadLetters(data); chart(data);
    $("prefix").textContent = data.topic_prefix;
    const status = $("status");
    status.className = data.ready ? "live" : (data.broker_reachable ? "" : "lost");
    status.textContent = data.ready
      ? "Live \\u00b7 updated " + clock(data.generated_at) + " UTC"
      : !data.broker_reachable
        ? "Broker unreachable \\u00b7 figures not updating (" + data.records_read + " records read)"
        : "Reading the topics\\u2026 " + data.records_read + " records so far";
    document.body.dataset.ready = data.ready ? "true" : "false";
  }

  async function refresh() {
    try {
      const response = await fetch(DATA_URL, {cache: "no-store", credentials: "same-origin"});
      if (!response.ok) throw new Error("HTTP " + response.status);
      render(await response.json());
    } catch (error) {
      const status = $("status");
      status.className = "lost";
      status.textContent = "Connection lost (" + error.message + "); retrying";
    } finally {
      setTimeout(refresh, REFRESH_MS);
    }
  }
  refresh();
})();
""".replace("@REFRESH_MS@", str(REFRESH_MS))

BODY = """<header>
  <h1>kpgw &mdash; Kimberley Process certificates: operator's dashboard</h1>
  <span class="sub">topics <span class="mono" id="prefix"></span> &middot; times in UTC</span>
  <span id="status">Loading&hellip;</span>
</header>
<main>
  <section class="wide" aria-labelledby="h-kpis">
    <h2 id="h-kpis">All partner pairs</h2>
    <div id="kpis"></div>
  </section>
  <section aria-labelledby="h-pairs">
    <h2 id="h-pairs">Certificates by partner pair (exporter &rarr; importer)</h2>
    <p class="help">Announced: certificates sent on to the importing authority. Matched: the
    importer's confirmation agrees. With discrepancies: it differs (carats, value, parcels,
    parties). Overdue: no confirmation within the pair's deadline.</p>
    <table id="pairs"><thead><tr><th>Pair</th><th class="num">Announced</th>
      <th class="num">Matched</th><th class="num">With discrepancies</th>
      <th class="num">Overdue</th><th class="num">Fraud signals</th></tr></thead>
      <tbody></tbody></table>
  </section>
  <div class="stack">
  <section aria-labelledby="h-chart">
    <h2 id="h-chart">Throughput, last 5 minutes</h2>
    <p class="help">Documents per 10 seconds: accepted (kp.inbound), translated into
    certificate events, decided by the router (kp.outcomes).</p>
    <div class="legend"><span><i class="accepted"></i>accepted</span>
      <span><i class="translated"></i>translated</span>
      <span><i class="decided"></i>decided</span></div>
    <div id="chart"></div>
  </section>
  <section aria-labelledby="h-dlq-reasons">
    <h2 id="h-dlq-reasons">Dead-letter queue by reason</h2>
    <p class="help">Documents that failed for good. Inspect with
    <span class="mono">kpgw dlq show ID</span>, replay after a fix with
    <span class="mono">kpgw dlq replay --reason R</span>.</p>
    <table id="dlq-reasons"><thead><tr><th>Reason</th><th class="num">Records</th>
      <th class="num" title="not re-sent by any replay yet">Pending</th>
      <th>Senders</th></tr></thead><tbody></tbody></table>
  </section>
  </div>
  <section class="wide" aria-labelledby="h-signals">
    <h2 id="h-signals">Fraud signals, newest first</h2>
    <p class="help">Outcomes that need an official's attention; hover a meaning for the
    router's detail.</p>
    <div class="chips" id="signal-kinds"></div>
    <table id="signals"><thead><tr><th>Time</th><th>Certificate</th><th>Pair</th>
      <th>Signal</th><th>What it means</th></tr></thead><tbody></tbody></table>
  </section>
  <section class="wide" aria-labelledby="h-dlq-newest">
    <h2 id="h-dlq-newest">Newest dead letters</h2>
    <table id="dlq-newest"><thead><tr><th>Id</th><th>Time</th><th>Sender</th><th>Reason</th>
      <th>Message</th></tr></thead><tbody></tbody></table>
  </section>
</main>
<noscript><p>This page needs JavaScript; the same data is at
<a href="dashboard/data.json">dashboard/data.json</a>.</p></noscript>"""


def _sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


@functools.cache
def page() -> bytes:
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<title>kpgw dashboard</title><link rel="icon" href="data:,">'
        f'<style>{STYLE}</style></head>\n<body data-ready="false">\n{BODY}\n'
        f"<script>{SCRIPT}</script>\n</body></html>\n"
    ).encode()


@functools.cache
def headers() -> dict[str, str]:
    """Nothing but this page's own script and style, data from this origin, no framing."""
    policy = (
        f"default-src 'none'; script-src {_sha256(SCRIPT)}; style-src {_sha256(STYLE)}; "
        "connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; "
        "frame-ancestors 'none'"
    )
    return {
        "Content-Security-Policy": policy,
        "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
    }
