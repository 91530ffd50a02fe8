// The Overview's evaluations: decisions per time bucket over a chosen window, the top
// flag categories and rules, and the service's error rate and latency
// (`GET /api/v1/stats/evaluations`, evaluations:read).
import { useMemo, useState } from "preact/hooks";
import { get } from "../../api.js";
import { BarChart } from "../../chart.js";
import { html } from "../../html.js";
import { Empty, ErrorBox, Loading, useApi, when } from "../../ui.js";
import { DataTable, Figures, Section } from "./parts.js";
import {
  COLOURS, WINDOWS, count, decisionColour, decisionsOf, isEmptyWindow, seriesChart,
  seriesRows, seriesSummary, sentence, serviceFigures, topChart, topSummary, windowOf,
  windowQuery,
} from "./model.js";

function WindowPicker({ value, onChange }) {
  return html`<div class="ov-tool">
    <label for="ov-window">Window</label>
    <select id="ov-window" value=${value} onChange=${(e) => onChange(e.currentTarget.value)}>
      ${WINDOWS.map((w) => html`<option value=${w.id}>${w.label}</option>`)}
    </select>
  </div>`;
}

function Decisions({ body, windowId }) {
  const ds = decisionsOf(body);
  const chart = useMemo(() => seriesChart(body), [body]);
  const rows = seriesRows(body);
  const day = body.bucket === "day";
  const unit = day ? "Day" : "Hour (UTC)";
  return html`
    <${Figures} label="Evaluations by decision" items=${[
      { label: "Evaluations", value: count(body.total) },
      ...ds.map((d) => ({ label: sentence(d), value: count(body.decisions?.[d] || 0),
                         swatch: decisionColour(d) })),
    ]} />
    <${BarChart} data=${chart} label=${seriesSummary(body, windowId)} stacked legend />
    <${DataTable} caption=${`Evaluations per ${day ? "day" : "hour (UTC)"} by decision, ${
        windowOf(windowId).span} (${when(body.from)} to ${when(body.to)})`}
      head=${[unit, ...ds.map(sentence), "Total"]}
      rows=${rows.map((r) => ({ key: r.start, head: r.name,
                                 cells: [...r.counts.map(count), count(r.total)] }))} />`;
}

function Top({ id, title, items, keyName, what, colour }) {
  const chart = useMemo(() => {
    const t = topChart(items, keyName);
    return { labels: t.labels, datasets: [{ label: "Evaluations", data: t.data,
                                           backgroundColor: colour }] };
  }, [items]);
  return html`<div class="ov-part" aria-labelledby=${id} role="group">
    <h3 id=${id}>${title}</h3>
    ${items?.length ? html`
      <${BarChart} data=${chart} label=${topSummary(items, keyName, title)} horizontal
        height=${Math.max(120, 28 * items.length + 40)} />
      <${DataTable} caption=${`${title}, by evaluations in this window`}
        head=${[what, "Evaluations"]}
        rows=${items.map((r) => ({ key: r[keyName], head: r[keyName],
                                   cells: [count(r.evaluations)] }))} />`
      : html`<${Empty}>None in this window.<//>`}
  </div>`;
}

function Service({ service }) {
  if (!service) return null;
  return html`<div class="ov-part" role="group" aria-labelledby="ov-service">
    <h3 id="ov-service">Service health</h3>
    <p class="muted small">${sentence(service.scope || "")}</p>
    <${Figures} label="Service health" items=${serviceFigures(service)} />
  </div>`;
}

export function EvaluationsSection() {
  const [windowId, setWindow] = useState("24h");
  // the window goes with its answer: while another loads, the one shown keeps its words
  const state = useApi(() => get("/api/v1/stats/evaluations", windowQuery(windowId))
    .then((body) => ({ body, windowId })), [windowId]);
  const body = state.data?.body;
  const shown = state.data?.windowId;
  return html`<${Section} id="ov-evaluations" title="Evaluations" busy=${state.loading}
      tools=${html`<${WindowPicker} value=${windowId} onChange=${setWindow} />`}>
    ${state.error ? html`<${ErrorBox} error=${state.error}
        title="The evaluation statistics could not be read" />`
      : !body ? html`<${Loading} what="Loading the evaluation statistics" />`
      : html`
        ${state.loading ? html`<${Loading} what="Updating" />` : null}
        ${isEmptyWindow(body) ? html`<${Empty}>No evaluations in this window.<//>`
          : html`<${Decisions} body=${body} windowId=${shown} />`}
        ${isEmptyWindow(body) ? null : html`<div class="ov-two">
          <${Top} id="ov-top-flags" title="Top flag categories" items=${body.top_flags}
            keyName="category" what="Flag category" colour=${COLOURS.flag} />
          <${Top} id="ov-top-rules" title="Top rules" items=${body.top_rules}
            keyName="rule" what="Rule" colour=${COLOURS.rule} />
        </div>`}
        <${Service} service=${body.service} />`}
  <//>`;
}
