// What the evaluation ran with: rule versions and their bytecode hashes, tables, strategy,
// engine, duration.
import { html } from "../../html.js";
import { href, seg } from "../../router.js";
import { Table, fmt, when } from "../../ui.js";

const KNOWN = new Set(["rules", "tables", "rules_evaluated", "strategy", "ruleset", "engine_version",
                       "calendar_version", "evaluation_duration_ms"]);

export function Metadata({ record }) {
  const m = record.metadata || {};
  const other = Object.entries(m).filter(([k]) => !KNOWN.has(k));
  return html`<h2>Metadata</h2>
    <dl class="kv panel">
      <dt>Evaluation</dt><dd><code>${record.evaluation_id}</code></dd>
      <dt>Time</dt><dd>${when(record.timestamp)}</dd>
      <dt>Strategy</dt><dd>${fmt(m.strategy)}</dd>
      ${m.ruleset ? html`<dt>Ruleset</dt><dd><code>${typeof m.ruleset === "object" ? JSON.stringify(m.ruleset) : m.ruleset}</code></dd>` : null}
      <dt>Engine</dt><dd><code>${fmt(m.engine_version)}</code></dd>
      ${m.calendar_version ? html`<dt>Calendar</dt><dd><code>${m.calendar_version}</code></dd>` : null}
      <dt>Duration</dt><dd>${m.evaluation_duration_ms !== undefined ? `${m.evaluation_duration_ms} ms` : "—"}</dd>
      <dt>Log index</dt><dd>${fmt(record.log_index)}</dd>
      ${other.map(([k, v]) => html`<dt>${k.replaceAll("_", " ")}</dt><dd>${fmt(v)}</dd>`)}
    </dl>
    <${Table} caption="Rule versions" rows=${m.rules || []} rowKey=${(r) => `${r.rule_id}@${r.version}`}
      columns=${[
        { key: "rule_id", label: "Rule", render: (r) => html`<a href=${href(`/rules/${seg(r.rule_id)}`)}>${r.rule_id}</a>` },
        { key: "version", label: "Version" },
        { key: "bytecode_hash", label: "Bytecode hash", render: (r) => html`<code class="hash">${r.bytecode_hash}</code>` },
      ]} />
    ${(m.tables || []).length ? html`<${Table} caption="Tables" rows=${m.tables} rowKey=${(t) => `${t.table}@${t.version}`}
      columns=${[
        { key: "table", label: "Table" },
        { key: "version", label: "Version" },
        { key: "content_hash", label: "Content hash", render: (t) => html`<code class="hash">${t.content_hash}</code>` },
      ]} />` : html`<p class="muted">No reference table was read.</p>`}`;
}
