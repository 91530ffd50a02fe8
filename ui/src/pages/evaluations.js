import { html } from "../html.js";
import { Page } from "../ui.js";

export function EvaluationsPage() {
  return html`<${Page} title="evaluations"><p>Being built.</p><//>`;
}
