import { html } from "../html.js";
import { Page } from "../ui.js";

export function Overview() {
  return html`<${Page} title="overview"><p>Being built.</p><//>`;
}
