// The Cases section: `#/cases` (queues and the case list, filtered by the URL's query) and
// `#/cases/<id>` (one case: summary, actions, evaluations, notes, attachments, history).
import { html } from "../html.js";
import { CaseList } from "./cases/list.js";
import { CaseDetail } from "./cases/detail.js";

export function CasesPage({ route }) {
  const id = route.parts[1];
  if (!id) return html`<${CaseList} query=${route.query} />`;
  return html`<${CaseDetail} key=${id} id=${id} />`;
}
