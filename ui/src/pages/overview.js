// `#/`: the Overview, the page after signing in. Each section shows only when the signed-in
// roles allow the call behind it, loads on its own (all at the same time) and has its own
// loading, empty and error states.
import { html } from "../html.js";
import { can, me } from "../session.js";
import { useSignal } from "../signal.js";
import { Page } from "../ui.js";
import { EvaluationsSection } from "./overview/evaluations.js";
import { LogSection } from "./overview/log.js";
import { QueuesSection } from "./overview/queues.js";
import "./overview.css";

export const OVERVIEW_SECTIONS = [
  { id: "evaluations", needs: "evaluations:read", view: EvaluationsSection },
  { id: "queues", needs: "cases:read", view: QueuesSection },
  { id: "log", needs: "log:read", view: LogSection },
];

export function Overview() {
  const who = useSignal(me);
  const shown = OVERVIEW_SECTIONS.filter((s) => can(s.needs));
  return html`<${Page} title="Overview">
    ${shown.length ? html`<div class="ov-page">
        ${shown.map((s) => html`<${s.view} key=${s.id} />`)}
      </div>`
      : html`<p class="ov-note">Your roles (${who?.roles.join(", ")}) grant none of what this
        page shows (evaluations, case queues, the transparency log).</p>`}
  <//>`;
}
