// The Overview's transparency log: its size and latest signed tree head, and per chain the
// latest anchor and how far behind the log it is (`GET /api/v1/log/sth`,
// `GET /api/v1/anchors`, log:read).
import { useMemo } from "preact/hooks";
import { get } from "../../api.js";
import { BarChart } from "../../chart.js";
import { html } from "../../html.js";
import { Badge, ErrorBox, Loading, short, useApi, when } from "../../ui.js";
import { DataTable, Figures, Section } from "./parts.js";
import { count, loadLog, logChart, logSummary, plural } from "./model.js";

function Health({ c }) {
  if (c.healthy === true) return html`<${Badge} value="healthy" tone="good" />`;
  if (c.healthy === false) return html`<${Badge} value="unhealthy" tone="bad" />`;
  return html`<span class="muted">health not checked yet</span>`;
}

function Chain({ r }) {
  const id = `ov-chain-${r.chain.replace(/[^A-Za-z0-9_-]/g, "_")}`;
  const a = r.anchor;
  return html`<article class="ov-chain" aria-labelledby=${id}>
    <h4 id=${id}>${r.chain} <${Health} c=${r} /></h4>
    ${r.healthy === false && r.last_error
      ? html`<p class="ov-error-text small">${r.last_error}</p>` : null}
    ${a ? html`<dl class="ov-kv">
      <dt>Latest anchor</dt>
      <dd><${Badge} value=${a.status} />${a.last_error
        ? html`<br /><small class="ov-error-text">${a.last_error}</small>` : null}</dd>
      <dt>Tree size</dt><dd>${count(a.tree_size)}</dd>
      <dt>Confirmations</dt><dd>${count(a.confirmations)} of ${count(r.confirmation_blocks)}</dd>
      <dt>Transaction</dt>
      <dd>${a.tx_hash ? html`<code title=${a.tx_hash}>${short(a.tx_hash, 10)}</code>`
        : html`<span class="muted">not sent yet</span>`}</dd>
      <dt>Behind the log</dt><dd>${r.behind.brief}</dd>
    </dl>` : html`<p class="ov-note">No anchor yet.</p>`}
  </article>`;
}

function Chains({ rows }) {
  if (!rows.length) {
    return html`<p class="ov-note">No chain is configured for anchoring: tree heads are
      signed and can be witnessed, but not committed to a blockchain.</p>`;
  }
  return html`<div class="ov-chains">${rows.map((r) => html`<${Chain} key=${r.chain} r=${r} />`)}</div>`;
}

function Log({ sth, chains }) {
  const chart = useMemo(() => logChart(sth, chains), [sth, chains]);
  const bars = chart.labels.length;
  return html`
    <h3>Latest signed tree head</h3>
    <${Figures} label="Latest signed tree head" items=${[
      { label: "Log size", value: plural(Number(sth.tree_size || 0), "entry", "entries") },
      { label: "Root hash", value: html`<code title=${sth.root_hash}>${short(sth.root_hash, 12)}</code>` },
      { label: "Signed at", value: html`<time datetime=${sth.timestamp}>${when(sth.timestamp)}</time>` },
      { label: "Key id", value: html`<code>${sth.key_id}</code>` },
    ]} />
    <h3>Anchors</h3>
    <${Chains} rows=${chains} />
    <${BarChart} data=${chart} label=${logSummary(sth, chains)} horizontal
      height=${Math.max(110, 34 * bars + 50)} />
    <${DataTable} caption="Entries in the log and covered by each chain's latest anchor"
      head=${["Tree", "Entries", "Behind the log"]}
      rows=${[{ key: "log", head: "Log (latest signed tree head)",
                cells: [count(sth.tree_size), "—"] },
              ...chains.filter((r) => r.anchor).map((r) => ({ key: r.chain,
                head: `${r.chain}: latest anchor (${r.anchor.status})`,
                cells: [count(r.anchor.tree_size), count(r.behind.entries)] }))]} />`;
}

export function LogSection() {
  const state = useApi(() => loadLog(get), []);
  return html`<${Section} id="ov-log" title="Transparency log" busy=${state.loading}>
    ${state.error ? html`<${ErrorBox} error=${state.error} title="The log could not be read" />`
      : !state.data ? html`<${Loading} what="Loading the log" />`
      : html`<${Log} sth=${state.data.sth} chains=${state.data.chains} />`}
  <//>`;
}
