import { html } from "../html.js";
import { Page } from "../ui.js";

export function RulesPage() {
  return html`<${Page} title="rules"><p>Being built.</p><//>`;
}
