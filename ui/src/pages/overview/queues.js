// The Overview's case queues: open cases per queue with those past their SLA
// (`GET /api/v1/queues`, cases:read); each queue links to its cases.
import { useMemo } from "preact/hooks";
import { get } from "../../api.js";
import { BarChart } from "../../chart.js";
import { html } from "../../html.js";
import { href, navigate } from "../../router.js";
import { Empty, ErrorBox, Loading, useApi, when } from "../../ui.js";
import { DataTable, Section } from "./parts.js";
import { COLOURS, count, queueChart, queueRows, queueSummary } from "./model.js";

export const queueHref = (queue) => href("/cases", { queue });

function Queues({ rows }) {
  const chart = useMemo(() => queueChart(rows), [rows]);
  return html`
    <${BarChart} data=${chart} label=${queueSummary(rows)} horizontal stacked legend
      height=${Math.max(140, 32 * rows.length + 70)}
      onClick=${(i) => navigate("/cases", { queue: rows[i].queue })} />
    <ul class="ov-queues" aria-label="Queues">
      ${rows.map((r) => html`<li key=${r.queue}>
        <a href=${queueHref(r.queue)}>${r.queue}</a>
        <span class="muted small"> ${count(r.open)} open</span>
        ${r.breached ? html` <span class="ov-breached small"><span class="ov-swatch"
          style=${{ background: COLOURS.breached }} aria-hidden="true"></span>${count(r.breached)} past SLA</span>` : null}
      </li>`)}
    </ul>
    <${DataTable} caption="Open cases per queue and SLA breaches"
      head=${["Queue", "Open cases", "Within SLA", "SLA breached", "Oldest due"]}
      rows=${rows.map((r) => ({ key: r.queue,
        head: html`<a href=${queueHref(r.queue)}>${r.queue}</a>`,
        cells: [count(r.open), count(r.within), count(r.breached),
                r.oldest_due_at ? when(r.oldest_due_at) : "—"] }))} />`;
}

export function QueuesSection() {
  const state = useApi(() => get("/api/v1/queues"), []);
  const rows = useMemo(() => (state.data ? queueRows(state.data) : null), [state.data]);
  return html`<${Section} id="ov-queues" title="Case queues" busy=${state.loading}>
    ${state.error ? html`<${ErrorBox} error=${state.error} title="The queues could not be read" />`
      : !rows ? html`<${Loading} what="Loading the queues" />`
      : !rows.length ? html`<${Empty}>No open cases in any queue.<//>`
      : html`<${Queues} rows=${rows} />`}
  <//>`;
}
