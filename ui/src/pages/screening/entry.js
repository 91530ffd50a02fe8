// `#/screening/allowlist/<id>`: one false-positive decision with its review: approve or
// reject a pending one (screening:approve; the API refuses the person who recorded it,
// E_SAME_PERSON, and that refusal is shown as it is), revoke (screening:write).
import { useState } from "preact/hooks";
import { html } from "../../html.js";
import { get, post } from "../../api.js";
import { href, seg } from "../../router.js";
import { can, me } from "../../session.js";
import { Badge, ErrorBox, Field, Loading, fmt, useApi, when } from "../../ui.js";

function Facts({ e }) {
  const at = (t) => (t ? html`<time datetime=${t}>${when(t)}</time>` : fmt(null));
  const rows = [
    ["Status", html`<${Badge} value=${e.status} />`],
    ["Customer", html`<code>${e.subject_id}</code>`],
    ["Listed entity", html`${e.entity_caption || ""} <code>${e.entity_id}</code>`],
    ["Entity hash", html`<code>${e.entity_hash}</code>`],
    ["Lists", (e.datasets || []).map((d, i) => html`${i ? ", " : ""}${d.name}
      <code title=${d.version}>${String(d.version || "").slice(0, 19)}…</code>`)],
    ["Reason", html`<span class="case-text">${e.reason}</span>`],
    ["Recorded", html`${at(e.created_at)} by ${e.created_by}`],
    ["Reviewed", e.reviewed_by ? html`${at(e.reviewed_at)} by ${e.reviewed_by}` : fmt(null)],
    ["Review note", fmt(e.review_note)],
    ["Revoked", e.revoked_by ? html`${at(e.revoked_at)} by ${e.revoked_by}` : fmt(null)],
    ["Revocation note", fmt(e.revoke_note)],
  ];
  return html`<dl class="case-summary panel" aria-label="Decision">
    ${rows.map(([k, v]) => html`<div><dt>${k}</dt><dd>${v}</dd></div>`)}</dl>`;
}

function Review({ e, onDone }) {
  const [note, setNote] = useState("");
  const [busy, setBusy] = useState(null);
  const [error, setError] = useState(null);
  const pending = e.status === "pending";
  const review = can("screening:approve") && pending;
  const revoke = can("screening:write") && (pending || e.status === "active");
  if (!review && !revoke) {
    return html`<p class="muted">${pending || e.status === "active"
      ? "Your roles may read this decision but not review or revoke it."
      : `The decision is ${e.status}: nothing more can be done with it.`}</p>`;
  }
  const run = (verb) => async () => {
    setBusy(verb); setError(null);
    try {
      const body = note.trim() ? { note: note.trim() } : undefined;
      const updated = await post(`/api/v1/screening/allowlist/${seg(e.id)}/${verb}`, body);
      setNote("");
      onDone(updated, verb);
    } catch (exc) {
      setError(exc);
    } finally {
      setBusy(null);
    }
  };
  const own = e.created_by && e.created_by === me.get()?.person;
  return html`<form class="panel al-review" aria-label="Review the decision"
      onSubmit=${(ev) => ev.preventDefault()}>
    ${review && own ? html`<p class="muted small">You recorded this decision: the API lets only
      another person approve or reject it.</p>` : null}
    <${Field} id="al-note" label="Note (optional)" hint="Why, for the audit log">
      <textarea id="al-note" rows="2" value=${note} maxlength="2000"
        onInput=${(ev) => setNote(ev.currentTarget.value)}></textarea><//>
    <${ErrorBox} error=${error} title="The review was refused" />
    <div class="row">
      ${review ? html`<button type="button" class="primary" disabled=${!!busy}
        onClick=${run("approve")}>Approve</button>
        <button type="button" class="danger" disabled=${!!busy} onClick=${run("reject")}>Reject</button>` : null}
      ${revoke ? html`<button type="button" class="danger" disabled=${!!busy}
        onClick=${run("revoke")}>Revoke</button>` : null}
    </div>
  </form>`;
}

const DONE = { approve: "Approved: the decision applies now.", reject: "Rejected.",
  revoke: "Revoked: later screenings report the entity again." };

export function AllowlistEntry({ id, query }) {
  const [tick, setTick] = useState(0);
  const [msg, setMsg] = useState(query.recorded ? "Decision recorded." : "");
  const state = useApi(() => get(`/api/v1/screening/allowlist/${seg(id)}`), [id, tick]);
  const e = state.data;
  const back = html`<p class="muted"><a href=${href("/screening/allowlist")}>← Allowlist</a></p>`;
  if (state.error) return html`${back}<${ErrorBox} error=${state.error} title="The decision could not be read" />`;
  if (!e) return html`${back}<${Loading} what="Loading the decision" />`;
  return html`${back}
    <h2>Decision <code>${e.id}</code></h2>
    <p role="status" aria-live="polite">${msg}${e.status === "pending" && !msg
      ? "Pending: it applies once another person approves it." : ""}</p>
    <${Facts} e=${e} />
    <h3>Review</h3>
    <${Review} key=${e.status} e=${e} onDone=${(_u, verb) => { setMsg(DONE[verb]); setTick((t) => t + 1); }} />`;
}
