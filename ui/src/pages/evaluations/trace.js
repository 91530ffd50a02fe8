// The "Trace" tab: the basic trace (conditions, triggers, actions of each rule) and, when
// recorded (`options.trace: full`), the full trace of every instruction, a page at a time.
import { useState } from "preact/hooks";
import { html } from "../../html.js";
import { ErrorBox, Loading, Pager, Table } from "../../ui.js";

const PER_PAGE = 100;

function describe(e) {
  switch (e.event) {
    case "condition": return html`condition <code>${e.id}</code> = <code>${JSON.stringify(e.value)}</code>`;
    case "trigger": return html`trigger of action ${e.action + 1} = <code>${JSON.stringify(e.value)}</code>`;
    case "action": return html`action ${e.action + 1} fired: <strong>${e.type}</strong>`;
    case "plugin_call": return html`plugin <code>${e.plugin}.${e.function}</code>
      (${JSON.stringify(e.args)}) → <code>${JSON.stringify(e.result)}</code>`;
    default: return html`<code>${JSON.stringify(e)}</code>`;
  }
}

function BasicTrace({ trace }) {
  if (!trace?.length) return html`<p class="muted">No rule ran, so the trace is empty.</p>`;
  return trace.map((t) => html`<${Table} caption=${`${t.rule_id} ${t.version}`}
    rows=${t.events.map((e, i) => ({ i: i + 1, e }))} rowKey=${(r) => r.i}
    columns=${[{ key: "i", label: "#", className: "num" },
               { key: "event", label: "Event", render: (r) => r.e.event },
               { key: "detail", label: "Detail", render: (r) => describe(r.e) }]} />`);
}

function RuleInstructions({ t }) {
  const [page, setPage] = useState(1);
  const rows = t.events.slice((page - 1) * PER_PAGE, page * PER_PAGE)
    .map((e, i) => ({ n: (page - 1) * PER_PAGE + i + 1, ...e }));
  return html`<details class="eval-full-rule"><summary>${t.rule_id} ${t.version}: ${t.events.length} instructions</summary>
    <${Table} caption=${`Instructions of ${t.rule_id}`} rows=${rows} rowKey=${(r) => r.n}
      columns=${[{ key: "n", label: "#", className: "num" }, { key: "fn", label: "Function" },
                 { key: "pc", label: "PC", className: "num" }, { key: "op", label: "Op" },
                 { key: "top", label: "Top of stack", render: (r) => html`<code>${JSON.stringify(r.top)}</code>` }]} />
    <${Pager} page=${page} perPage=${PER_PAGE} total=${t.events.length} onPage=${setPage} />
  </details>`;
}

export function TraceTab({ record, full }) {
  const recorded = !!(record.full_trace || record.full_trace_ref);
  return html`<h2>Basic trace</h2>
    <p class="muted small">Covered by the proof's <code>trace_hash</code>.</p>
    <${BasicTrace} trace=${record.trace} />
    <h2>Full trace</h2>
    ${!recorded ? html`<p class="muted">Not recorded: evaluate with the full trace option to keep every instruction.</p>`
      : full.error ? html`<${ErrorBox} error=${full.error} title="The full trace could not be read" />`
      : !full.data ? html`<${Loading} what="Loading the full trace" />`
      : full.data.map((t) => html`<${RuleInstructions} t=${t} />`)}`;
}
