import { html } from "../html.js";
import { Page } from "../ui.js";

export function CasesPage() {
  return html`<${Page} title="cases"><p>Being built.</p><//>`;
}
