// Shared building blocks of every screen: data loading, loading/empty/error states,
// tables with pagination, badges, tabs, JSON view.
import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { html } from "./html.js";

/** Load data with `fn()` when `deps` change: {data, error, loading, reload}. */
export function useApi(fn, deps = []) {
  const [state, setState] = useState({ data: null, error: null, loading: true });
  const seq = useRef(0);
  const run = useCallback(() => {
    const mine = ++seq.current;
    setState((s) => ({ ...s, loading: true, error: null }));
    Promise.resolve()
      .then(fn)
      .then((data) => mine === seq.current && setState({ data, error: null, loading: false }),
            (error) => mine === seq.current && setState({ data: null, error, loading: false }));
  }, deps);
  useEffect(run, [run]);
  return { ...state, reload: run };
}

export function Page({ title, actions, children, wide }) {
  useEffect(() => {
    document.title = `${title} · ARKA Engine`;
  }, [title]);
  return html`<section class=${wide ? "page wide" : "page"} aria-labelledby="page-title">
    <header class="page-head">
      <h1 id="page-title" tabindex="-1">${title}</h1>
      ${actions ? html`<div class="page-actions">${actions}</div>` : null}
    </header>
    ${children}
  </section>`;
}

export function Loading({ what = "Loading" }) {
  return html`<p class="loading" role="status" aria-live="polite"><span class="spinner"
    aria-hidden="true"></span>${what}…</p>`;
}

export function Empty({ children }) {
  return html`<p class="empty">${children}</p>`;
}

/** An API error as the API states it: code, message, each detail with its path, and
 * the request id to quote to an operator. */
export function ErrorBox({ error, title = "The request failed" }) {
  if (!error) return null;
  const details = error.details || [];
  return html`<div class="error-box" role="alert">
    <strong>${title}: </strong><span class="error-code">${error.code || "ERROR"}</span>
    <p class="error-message">${error.message}</p>
    ${details.length ? html`<ul class="error-details">
      ${details.map((d) => html`<li>
        ${d.line ? html`<span class="pos">line ${d.line}${d.column ? `, column ${d.column}` : ""}: </span>` : null}
        ${d.path ? html`<code>${d.path}</code> ` : null}${d.code ? html`<span class="error-code">${d.code}</span> ` : null}${d.message}
      </li>`)}</ul>` : null}
    ${error.requestId ? html`<p class="muted small">request ${error.requestId}</p>` : null}
  </div>`;
}

/** The states around a loaded value: loading, error, empty, or `children(data)`. */
export function Loaded({ state, empty, isEmpty, children }) {
  if (state.error) return html`<${ErrorBox} error=${state.error} />`;
  if (state.loading && state.data === null) return html`<${Loading} />`;
  if (state.data === null) return null;
  if (isEmpty && isEmpty(state.data)) return html`<${Empty}>${empty || "Nothing here yet."}<//>`;
  return children(state.data);
}

/** A data table. `columns`: [{key, label, render?(row), className?}]. */
export function Table({ columns, rows, caption, rowKey = (r, i) => i, onRow }) {
  return html`<div class="table-wrap"><table>
    ${caption ? html`<caption>${caption}</caption>` : null}
    <thead><tr>${columns.map((c) => html`<th scope="col" class=${c.className}>${c.label}</th>`)}</tr></thead>
    <tbody>${rows.map((r, i) => html`<tr key=${rowKey(r, i)}
        class=${onRow ? "clickable" : ""} onClick=${onRow ? () => onRow(r) : undefined}>
      ${columns.map((c) => html`<td class=${c.className}>${c.render ? c.render(r) : fmt(r[c.key])}</td>`)}
    </tr>`)}</tbody>
  </table></div>`;
}

/** Page through `total` items, `per_page` at a time. */
export function Pager({ page, perPage, total, onPage }) {
  const pages = Math.max(1, Math.ceil(total / perPage));
  if (total <= perPage && page === 1) return html`<p class="muted small">${total} in all</p>`;
  return html`<nav class="pager" aria-label="Pages">
    <button type="button" disabled=${page <= 1} onClick=${() => onPage(page - 1)}>← Previous</button>
    <span aria-live="polite">Page ${page} of ${pages} · ${total} in all</span>
    <button type="button" disabled=${page >= pages} onClick=${() => onPage(page + 1)}>Next →</button>
  </nav>`;
}

const TONES = {
  compliant: "good", non_compliant: "bad", needs_review: "warn", active: "good",
  pending: "warn", pending_approval: "warn", rejected: "bad", expired: "muted",
  confirmed: "good", submitted: "warn", failed: "bad", open: "warn", closed: "muted",
  ok: "good", valid: "good", invalid: "bad", incomplete: "warn", not_checked: "warn",
};

export function Badge({ value, tone }) {
  const t = tone || TONES[value] || "neutral";
  return html`<span class=${`badge ${t}`}>${String(value).replaceAll("_", " ")}</span>`;
}

/** Tabs with arrow-key navigation, Home and End (WAI-ARIA tabs pattern, automatic
 * activation: the focused tab is the selected one). */
export function Tabs({ tabs, active, onChange, label }) {
  const onKey = (e) => {
    const i = tabs.findIndex((t) => t.id === active);
    const to = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: tabs.length - 1 }[e.key];
    if (to === undefined) return;
    e.preventDefault();
    const next = tabs[(to + tabs.length) % tabs.length];
    onChange(next.id);
    requestAnimationFrame(() => document.getElementById(`tab-${next.id}`)?.focus());
  };
  return html`<div class="tabs" role="tablist" aria-label=${label} onKeyDown=${onKey}>
    ${tabs.map((t) => html`<button type="button" role="tab" id=${`tab-${t.id}`}
      aria-selected=${t.id === active} aria-controls=${`panel-${t.id}`}
      tabindex=${t.id === active ? 0 : -1} onClick=${() => onChange(t.id)}>${t.label}</button>`)}
  </div>`;
}

export function TabPanel({ id, children }) {
  return html`<div role="tabpanel" id=${`panel-${id}`} aria-labelledby=${`tab-${id}`}
    class="tab-panel">${children}</div>`;
}

export function JsonView({ value, label = "JSON" }) {
  return html`<pre class="json" tabindex="0" aria-label=${label}>${JSON.stringify(value, null, 2)}</pre>`;
}

/** A labelled form field; `children` is the control, whose id must be `id`. */
export function Field({ id, label, hint, children }) {
  return html`<div class="field"><label for=${id}>${label}</label>${children}
    ${hint ? html`<small class="muted">${hint}</small>` : null}</div>`;
}

export function fmt(v) {
  if (v === null || v === undefined || v === "") return html`<span class="muted">—</span>`;
  if (typeof v === "boolean") return v ? "yes" : "no";
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
}

/** `2024-01-15T14:00:00Z` as `2024-01-15 14:00:00 UTC` (always UTC: what the records say). */
export function when(ts) {
  if (!ts) return "—";
  return String(ts).replace("T", " ").replace(/(\.\d+)?Z$/, " UTC");
}

export function short(hash, n = 12) {
  if (!hash) return "—";
  const s = String(hash);
  return s.length > n + 8 ? `${s.slice(0, n + 7)}…` : s;
}
