import { html } from "../html.js";
import { Page } from "../ui.js";

export function ScreeningPage() {
  return html`<${Page} title="screening"><p>Being built.</p><//>`;
}
