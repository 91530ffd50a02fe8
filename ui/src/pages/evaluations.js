// The Evaluations section: `#/evaluations` (list), `#/evaluations/new` (evaluate),
// `#/evaluations/<id>` (one decision explained, its trace, proof and raw record).
import { html } from "../html.js";
import { EvaluationList } from "./evaluations/list.js";
import { EvaluateForm } from "./evaluations/new.js";
import { EvaluationDetail } from "./evaluations/detail.js";

export function EvaluationsPage({ route }) {
  const sub = route.parts[1];
  if (!sub) return html`<${EvaluationList} query=${route.query} />`;
  if (sub === "new") return html`<${EvaluateForm} />`;
  return html`<${EvaluationDetail} id=${sub} query=${route.query} />`;
}
