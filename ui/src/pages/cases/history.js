// A case's history: its hash chain of events, oldest first (who, when, what), the notes
// taken on it, and the chain check (`GET /api/v1/cases/{id}/verify`).
import { html } from "../../html.js";
import { Badge, Empty, ErrorBox, Loaded, Loading, short, when } from "../../ui.js";
import { eventSummary, notesOf } from "./model.js";

const LABELS = {
  opened: "Opened", evaluation_added: "Evaluation added", assign: "Assigned",
  claim: "Claimed", release: "Released", comment: "Comment", escalate: "Escalated",
  close: "Closed", close_requested: "Closing requested", approve: "Closing approved",
  reject: "Closing rejected", reopen: "Reopened", attachment_added: "Attachment added",
};

export const actionLabel = (a) => LABELS[a] || a.replaceAll("_", " ");

function Event({ ev }) {
  const pairs = eventSummary(ev);
  return html`<li class="case-event">
    <div class="case-event-head">
      <strong>${actionLabel(ev.action)}</strong>
      <span> by <span class="case-actor">${ev.actor}</span></span>
      <span class="muted"> · <time datetime=${ev.at}>${when(ev.at)}</time> · event ${ev.idx}</span>
    </div>
    ${pairs.length ? html`<dl class="case-kv">
      ${pairs.map(([k, v]) => html`<dt>${k}</dt><dd class=${k === "Text" || k === "Reason"
        || k === "Note" ? "case-text" : ""}>${k === "Due" ? when(v) : v}</dd>`)}
    </dl>` : null}
    <details class="small muted">
      <summary>Hashes</summary>
      <div>previous <code>${ev.prev_hash}</code></div>
      <div>this <code>${ev.hash}</code></div>
    </details>
  </li>`;
}

export function History({ events }) {
  return html`<${Loaded} state=${events} isEmpty=${(d) => !d.items.length}
      empty="No event recorded.">
    ${(d) => html`<ol class="case-history" aria-label="Case events, oldest first">
      ${d.items.map((ev) => html`<${Event} key=${ev.id} ev=${ev} />`)}</ol>`}
  <//>`;
}

export function Notes({ events }) {
  if (!events.data) return null;
  const notes = notesOf(events.data.items);
  if (!notes.length) return html`<${Empty}>No comments or notes yet.<//>`;
  return html`<ul class="case-notes">
    ${notes.map((n) => html`<li key=${n.id}>
      <div class="small"><strong>${n.actor}</strong> <span class="muted">· ${actionLabel(n.action)} · <time datetime=${n.at}>${when(n.at)}</time></span></div>
      <p class="case-text">${n.text}</p></li>`)}
  </ul>`;
}

export function ChainCheck({ state, onCheck }) {
  const v = state.data;
  let body;
  if (state.error) body = html`<${ErrorBox} error=${state.error} title="The chain could not be checked" />`;
  else if (!v) body = html`<${Loading} what="Checking the chain" />`;
  else if (v.valid) {
    body = html`<p><${Badge} value="valid" /> The chain checks: ${v.events} ${v.events === 1 ? "event" : "events"},
      head${" "}<code title=${v.head}>${short(v.head, 16)}</code>${v.version !== v.events
        ? html`, <strong>but the case says version ${v.version}</strong>` : null}.</p>`;
  } else {
    body = html`<div role="alert"><p><${Badge} value="invalid" /> <strong>The chain does not
      check</strong> (${v.events} events read).</p><p>${v.error}</p></div>`;
  }
  return html`<div class="case-chain" aria-live="polite">${body}
    <button type="button" onClick=${onCheck} disabled=${state.loading}>
      ${state.loading ? "Checking…" : "Verify chain"}</button></div>`;
}
