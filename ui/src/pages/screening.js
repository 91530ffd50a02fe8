// The Screening section: `#/screening` (screen a name, screening:run), `#/screening/allowlist`
// (the false-positive decisions), `.../allowlist/new` (record one), `.../allowlist/<id>`
// (one decision, its review). Callers without screening:run start at the allowlist.
import { html } from "../html.js";
import { href } from "../router.js";
import { can } from "../session.js";
import { Page } from "../ui.js";
import { ScreenForm } from "./screening/form.js";
import { AllowlistList, RecordDecision } from "./screening/allowlist.js";
import { AllowlistEntry } from "./screening/entry.js";

function SubNav({ current }) {
  const items = [
    ...(can("screening:run") ? [{ id: "screen", label: "Screen a name", to: "/screening" }] : []),
    { id: "allowlist", label: "Allowlist", to: "/screening/allowlist" },
  ];
  return html`<nav class="subnav" aria-label="Screening"><ul>
    ${items.map((i) => html`<li><a href=${href(i.to)}
      aria-current=${current === i.id ? "page" : undefined}>${i.label}</a></li>`)}
  </ul></nav>`;
}

export function ScreeningPage({ route }) {
  const [, sub, id] = route.parts;
  let current;
  let body;
  if (sub === "allowlist" && id === "new") {
    current = "allowlist"; body = html`<${RecordDecision} query=${route.query} />`;
  } else if (sub === "allowlist" && id) {
    current = "allowlist"; body = html`<${AllowlistEntry} key=${id} id=${id} query=${route.query} />`;
  } else if (sub === "allowlist" || !can("screening:run")) {
    current = "allowlist"; body = html`<${AllowlistList} query=${route.query} />`;
  } else if (!sub) {
    current = "screen"; body = html`<${ScreenForm} />`;
  } else {
    body = html`<p role="alert">No such page: <code>${route.path}</code>.${" "}
      <a href="#/screening">Back to screening</a></p>`;
  }
  return html`<${Page} title="Screening" wide>
    <${SubNav} current=${current} />
    ${body}
  <//>`;
}
