// `#/evaluations/<id>?tab=...`: one evaluation, its decision explained, trace, proof and
// raw record. The tab is in the URL so that a link can open the proof directly.
import { html } from "../../html.js";
import { get } from "../../api.js";
import { navigate, seg } from "../../router.js";
import { Badge, ErrorBox, JsonView, Loading, Page, TabPanel, Tabs, useApi, when } from "../../ui.js";
import { ProofPanel } from "../../proofPanel.js";
import { Explanation } from "./explain.js";
import { TraceTab } from "./trace.js";

const TABS = [
  { id: "explanation", label: "Explanation" },
  { id: "trace", label: "Trace" },
  { id: "proof", label: "Proof" },
  { id: "raw", label: "Raw JSON" },
];

function useFullTrace(record) {
  const ref = record && !record.full_trace && record.full_trace_ref ? record.evaluation_id : null;
  return useApi(async () => {
    if (record?.full_trace) return record.full_trace;
    if (!ref) return null;
    return (await get(`/api/v1/evaluations/${seg(ref)}/trace`)).trace;
  }, [record?.evaluation_id, !!record?.full_trace, ref]);
}

export function EvaluationDetail({ id, query }) {
  const state = useApi(() => get(`/api/v1/evaluations/${seg(id)}`), [id]);
  const record = state.data;
  const full = useFullTrace(record);
  const tab = TABS.some((t) => t.id === query.tab) ? query.tab : "explanation";
  const setTab = (t) => navigate(`/evaluations/${seg(id)}`, { tab: t === "explanation" ? undefined : t });
  const back = html`<p class="muted"><a href="#/evaluations">← Evaluations</a></p>`;
  if (state.error) {
    return html`<${Page} title=${`Evaluation ${id}`}>${back}<${ErrorBox} error=${state.error}
      title="The evaluation could not be read" /><//>`;
  }
  if (!record) return html`<${Page} title=${`Evaluation ${id}`}>${back}<${Loading} what="Loading the evaluation" /><//>`;
  const decision = record.result?.decision || "unknown";
  return html`<${Page} title=${`Evaluation ${id}`} wide
      actions=${html`<button type="button" onClick=${state.reload}>Reload</button>`}>
    ${back}
    <p class="eval-head"><${Badge} value=${decision} /> <span class="muted">at</span>
      <time datetime=${record.timestamp}>${when(record.timestamp)}</time>
      <span class="muted"> · log index ${record.log_index ?? "—"}</span></p>
    <${Tabs} tabs=${TABS} active=${tab} onChange=${setTab} label="Evaluation views" />
    <${TabPanel} id=${tab}>
      ${tab === "explanation" ? html`<${Explanation} record=${record} fullTrace=${full.data} />`
        : tab === "trace" ? html`<${TraceTab} record=${record} full=${full} />`
        : tab === "proof" ? html`<${ProofPanel} evaluationId=${id} />`
        : html`<h2>Raw JSON</h2><p class="muted small">The record exactly as${" "}
            <code>GET /api/v1/evaluations/${id}</code> returned it.</p>
            <${JsonView} value=${record} label="Evaluation record (JSON)" />`}
    <//>
  <//>`;
}
