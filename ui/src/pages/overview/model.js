// The Overview's pure parts: the evaluation windows, API bodies turned into chart data and
// table rows, number formatting, the anchors' distance behind the log, and the sentences
// that describe each chart to someone who cannot see it. No DOM, no Chart.js: unit-tested.

// ------------------------------------------------------------------ colours

// Decisions an evaluation can reach (most severe last), each with one colour in both
// themes: every colour has a contrast of at least 3:1 with the light and the dark panel.
export const DECISIONS = ["compliant", "needs_review", "non_compliant"];
export const COLOURS = {
  compliant: "#1f883d",
  needs_review: "#bf8700",
  non_compliant: "#cf222e",
  unknown: "#768390",
  within_sla: "#2f81f7",
  breached: "#cf222e",
  log: "#8250df",
  flag: "#cf222e",
  rule: "#2f81f7",
  confirmed: "#1f883d",
  pending: "#bf8700",
  submitted: "#bf8700",
  failed: "#cf222e",
};
export const PANELS = { light: "#ffffff", dark: "#161b22" };

export function decisionColour(decision) {
  return DECISIONS.includes(decision) ? COLOURS[decision] : COLOURS.unknown;
}

/** WCAG relative luminance of `#rrggbb`. */
export function luminance(hex) {
  const [r, g, b] = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16) / 255)
    .map((c) => (c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4));
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

export function contrast(a, b) {
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
  return (hi + 0.05) / (lo + 0.05);
}

// ------------------------------------------------------------------ words and numbers

/** `needs_review` as "needs review". */
export const words = (s) => String(s).replaceAll("_", " ");

/** "needs review" as "Needs review". */
export const sentence = (s) => { const w = words(s); return w.charAt(0).toUpperCase() + w.slice(1); };

export function plural(n, one, many = `${one}s`) {
  return `${n.toLocaleString("en-US")} ${n === 1 ? one : many}`;
}

export function count(n) {
  return n === null || n === undefined ? "—" : Number(n).toLocaleString("en-US");
}

/** A rate (0.003) as a percentage ("0.3%"): at most two decimals, never rounded to 0%
 * when there were some. */
export function percent(rate) {
  if (rate === null || rate === undefined || Number.isNaN(Number(rate))) return "—";
  const p = Number(rate) * 100;
  if (p === 0) return "0%";
  if (p < 0.01) return "<0.01%";
  return `${Number(p.toFixed(2))}%`;
}

/** Seconds (0.0042) as a latency ("4.2 ms", "250 ms", "1.25 s"); null: "—". */
export function latency(seconds) {
  if (seconds === null || seconds === undefined || Number.isNaN(Number(seconds))) return "—";
  const ms = Number(seconds) * 1000;
  if (ms === 0) return "0 ms";
  if (ms < 0.1) return "<0.1 ms";
  if (ms < 10) return `${Number(ms.toFixed(1))} ms`;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  return `${Number((ms / 1000).toFixed(2))} s`;
}

/** `2026-12-05T21:00:00Z` as the label of its bucket: "12-05 21:00" (hour) or
 * "2026-12-05" (day); always UTC, as the API buckets. */
export function bucketLabel(start, bucket) {
  const s = String(start);
  return bucket === "day" ? s.slice(0, 10) : `${s.slice(5, 10)} ${s.slice(11, 16)}`;
}

/** The full name of a bucket: "2026-12-05 21:00 UTC" or "2026-12-05". */
export function bucketName(start, bucket) {
  const s = String(start);
  return bucket === "day" ? s.slice(0, 10) : `${s.slice(0, 10)} ${s.slice(11, 16)} UTC`;
}

// ------------------------------------------------------------------ evaluation windows

const HOUR = 3600 * 1000;
const DAY = 24 * HOUR;
// Each window: `count` buckets of `bucket`, the last one the bucket of now.
export const WINDOWS = [
  { id: "24h", label: "Last 24 hours, by hour", span: "the last 24 hours", bucket: "hour",
    count: 24 },
  { id: "7d", label: "Last 7 days, by hour", span: "the last 7 days", bucket: "hour",
    count: 7 * 24 },
  { id: "30d", label: "Last 30 days, by day", span: "the last 30 days", bucket: "day",
    count: 30 },
];

export function windowOf(id) {
  return WINDOWS.find((w) => w.id === id) || WINDOWS[0];
}

/** RFC 3339 in UTC to the second: `2026-12-06T21:04:05Z`. */
export function rfc3339(ms) {
  return new Date(ms).toISOString().replace(/\.\d+Z$/, "Z");
}

/** The stats query of a window ending `now` (ms). The API starts a window at the start
 * of its first bucket and limits its length (hours: 7 days), so `from` is the start of
 * the first of the window's buckets: 24 hours are the hour of now and the 23 before it,
 * and the whole window is never longer than the limit. Both ends are given, so that the
 * window is the same whatever the server's clock says. */
export function windowQuery(id, now = Date.now()) {
  const w = windowOf(id);
  const step = w.bucket === "day" ? DAY : HOUR;
  const to = Math.floor(now / 1000) * 1000;
  const first = Math.floor(to / step) * step - (w.count - 1) * step;
  return { from: rfc3339(first), to: rfc3339(to), bucket: w.bucket };
}

// ------------------------------------------------------------------ evaluations

/** The decisions to chart: the known ones (always, in order, so that the legend and the
 * colours stay put), then any other one the body names, alphabetically. */
export function decisionsOf(body) {
  const seen = new Set(Object.keys(body?.decisions || {}));
  for (const b of body?.series || []) for (const d of Object.keys(b.counts || {})) seen.add(d);
  const other = [...seen].filter((d) => !DECISIONS.includes(d)).sort();
  return [...DECISIONS, ...other];
}

/** Labels and one stacked dataset per decision, from the stats body. */
export function seriesChart(body) {
  const series = body?.series || [];
  const labels = series.map((b) => bucketLabel(b.start, body.bucket));
  const datasets = decisionsOf(body).map((d) => ({
    label: sentence(d),
    decision: d,
    data: series.map((b) => Number(b.counts?.[d] || 0)),
    backgroundColor: decisionColour(d),
    stack: "decisions",
  }));
  return { labels, datasets };
}

/** Rows of the series' data table: bucket name, one count per decision, the total. */
export function seriesRows(body) {
  const ds = decisionsOf(body);
  return (body?.series || []).map((b) => {
    const counts = ds.map((d) => Number(b.counts?.[d] || 0));
    return { start: b.start, name: bucketName(b.start, body.bucket), counts,
             total: counts.reduce((a, n) => a + n, 0) };
  });
}

export function isEmptyWindow(body) {
  return !body || !Number(body.total);
}

/** "a, b and c" */
export function list(items) {
  if (items.length <= 1) return items.join("");
  return `${items.slice(0, -1).join(", ")} and ${items[items.length - 1]}`;
}

export function seriesSummary(body, windowId) {
  const w = windowOf(windowId);
  const unit = body?.bucket === "day" ? "day" : "hour";
  const total = Number(body?.total || 0);
  if (!total) return `Evaluations per ${unit} over ${w.span}: none.`;
  const parts = decisionsOf(body).map((d) => [d, Number(body.decisions?.[d] || 0)])
    .filter(([, n]) => n > 0).map(([d, n]) => `${words(d)} ${count(n)}`);
  let busiest = null;
  for (const r of seriesRows(body)) if (!busiest || r.total > busiest.total) busiest = r;
  return `Stacked bar chart of evaluations per ${unit} by decision over ${w.span}: ` +
    `${plural(total, "evaluation")} (${list(parts)}); the busiest ${unit} was ` +
    `${busiest.name} with ${count(busiest.total)}.`;
}

/** The service's figures, [{label, value}]: its evaluations, its errors (those the API
 * counts: `errors`, or rejected inputs and rule errors), the error rate and latency. */
export function serviceFigures(service) {
  if (!service) return [];
  const l = service.latency_seconds || {};
  const out = [{ label: "Evaluations", value: count(service.evaluations) }];
  if (service.errors !== undefined) out.push({ label: "Errors", value: count(service.errors) });
  if (service.rejected_inputs !== undefined) {
    out.push({ label: "Rejected inputs", value: count(service.rejected_inputs) });
  }
  if (service.rule_errors !== undefined) {
    out.push({ label: "Rule errors", value: count(service.rule_errors) });
  }
  out.push({ label: "Error rate", value: percent(service.error_rate) },
           { label: "Latency p50", value: latency(l.p50) },
           { label: "Latency p95", value: latency(l.p95) },
           { label: "Latency p99", value: latency(l.p99) });
  return out;
}

/** A top list (`[{rule, evaluations}]`) as bar labels and values. */
export function topChart(items, key) {
  const rows = items || [];
  return { labels: rows.map((r) => String(r[key])),
           data: rows.map((r) => Number(r.evaluations || 0)) };
}

export function topSummary(items, key, what) {
  const rows = items || [];
  if (!rows.length) return `${what}: none in this window.`;
  const shown = rows.slice(0, 3).map((r) => `${r[key]} ${count(r.evaluations)}`);
  const more = rows.length > 3 ? `, and ${rows.length - 3} more` : "";
  return `Horizontal bar chart of ${what.toLowerCase()}, by evaluations: ${shown.join(", ")}${more}.`;
}

// ------------------------------------------------------------------ queues

export const OPEN_STATES = ["open", "in_review", "escalated", "pending_approval"];

/** Per queue: its cases not closed, those past their SLA, and the others. */
export function queueRows(body) {
  return (body?.items || []).map((q) => {
    const open = OPEN_STATES.reduce((a, s) => a + Number(q[s] || 0), 0);
    const breached = Math.min(Number(q.sla_breached || 0), open);
    return { queue: q.queue, open, breached, within: open - breached,
             oldest_due_at: q.oldest_due_at ?? null };
  });
}

export function queueChart(rows) {
  return {
    labels: rows.map((r) => r.queue),
    datasets: [
      { label: "Within SLA", data: rows.map((r) => r.within), backgroundColor: COLOURS.within_sla,
        stack: "cases" },
      { label: "SLA breached", data: rows.map((r) => r.breached),
        backgroundColor: COLOURS.breached, stack: "cases" },
    ],
  };
}

export function queueSummary(rows) {
  if (!rows.length) return "Open cases per queue: none.";
  const open = rows.reduce((a, r) => a + r.open, 0);
  const late = rows.reduce((a, r) => a + r.breached, 0);
  const parts = rows.map((r) => `${r.queue} ${count(r.open)}` +
    (r.breached ? ` (${count(r.breached)} past SLA)` : ""));
  return `Stacked bar chart of open cases per queue, SLA breaches in red: ` +
    `${plural(open, "open case")} in ${plural(rows.length, "queue")}, ` +
    `${count(late)} past their SLA; ${parts.join(", ")}.`;
}

// ------------------------------------------------------------------ the log and anchors

/** How far an anchor is behind the log of `logSize` entries. */
export function behind(logSize, anchor) {
  if (!anchor) return { entries: null, text: "no anchor yet", brief: "—" };
  const n = Math.max(0, Number(logSize || 0) - Number(anchor.tree_size || 0));
  return n === 0
    ? { entries: 0, text: "covers the whole log", brief: "none: it covers the whole log" }
    : { entries: n, text: `${plural(n, "entry", "entries")} behind the log`,
        brief: plural(n, "entry", "entries") };
}

/** Per configured chain: its settings and health, its latest anchor (or null), and how
 * far behind the log that anchor is. */
export function chainRows(chains, latest, logSize) {
  return (chains || []).map((c) => {
    const anchor = latest?.[c.chain] || null;
    return { ...c, anchor, behind: behind(logSize, anchor) };
  });
}

/** The latest anchor of a chain (anchors are listed oldest first): the count, then its
 * last page of one. `get(path, query)` is the API's. */
export async function latestAnchor(get, chain) {
  const first = await get("/api/v1/anchors", { chain, per_page: 1 });
  if (!first.total) return null;
  if (first.total === 1) return first.items[0] || null;
  const last = await get("/api/v1/anchors", { chain, per_page: 1, page: first.total });
  return last.items[0] || null;
}

/** The log section's data: the signed tree head and, per configured chain, its latest
 * anchor; the calls that can run at the same time do. */
export async function loadLog(get) {
  const [sth, anchors] = await Promise.all([get("/api/v1/log/sth"),
                                            get("/api/v1/anchors", { per_page: 1 })]);
  const chains = anchors.chains || [];
  const found = await Promise.all(chains.map((c) => latestAnchor(get, c.chain)));
  const latest = Object.fromEntries(chains.map((c, i) => [c.chain, found[i]]));
  return { sth, chains: chainRows(chains, latest, sth.tree_size) };
}

export function logChart(sth, rows) {
  const withAnchor = rows.filter((r) => r.anchor);
  return {
    labels: ["Log", ...withAnchor.map((r) => `${r.chain} (${r.anchor.status})`)],
    datasets: [{
      label: "Entries",
      data: [Number(sth.tree_size || 0), ...withAnchor.map((r) => Number(r.anchor.tree_size))],
      backgroundColor: [COLOURS.log, ...withAnchor.map((r) => COLOURS[r.anchor.status] ||
        COLOURS.unknown)],
    }],
  };
}

export function logSummary(sth, rows) {
  const head = `Horizontal bar chart of entries: the log has ${plural(Number(sth.tree_size || 0), "entry", "entries")}`;
  if (!rows.length) return `${head}; no chain is configured for anchoring.`;
  const parts = rows.map((r) => r.anchor
    ? `${r.chain}'s latest anchor (${r.anchor.status}) covers ${count(r.anchor.tree_size)}, ${r.behind.text}`
    : `${r.chain} has no anchor yet`);
  return `${head}; ${parts.join("; ")}.`;
}
