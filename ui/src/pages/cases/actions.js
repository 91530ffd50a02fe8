// The actions on a case (`POST /api/v1/cases/{id}/actions`), each a small form shown only
// when the status allows it and the caller's roles grant its permission. Every action
// carries the version the analyst saw (`expected_version`): a case changed meanwhile is
// refused (409) rather than acted on blind. Refusals are shown as the API states them.
import { useState } from "preact/hooks";
import { html } from "../../html.js";
import { post } from "../../api.js";
import { seg } from "../../router.js";
import { can, me } from "../../session.js";
import { ErrorBox, Field, when } from "../../ui.js";
import { DISPOSITIONS, PRIORITIES, actionBody, availableActions } from "./model.js";

const DONE = {
  assign: "Assigned", claim: "Claimed", release: "Released", comment: "Comment added",
  escalate: "Escalated", close: "Closing recorded", approve: "Closing approved",
  reject: "Closing rejected", reopen: "Reopened",
};

/** Run one action; `onDone(updatedCase, message)` on success, the refusal kept here. */
function useAction(c, onDone) {
  const [busy, setBusy] = useState(null);
  const [error, setError] = useState(null);
  const run = async (action, fields = {}) => {
    setBusy(action); setError(null);
    try {
      const updated = await post(`/api/v1/cases/${seg(c.id)}/actions`,
                                 actionBody(action, fields, c.version));
      const msg = action === "close" && updated.status === "pending_approval"
        ? "Closing requested: another person must approve it (four-eyes)" : DONE[action];
      onDone(updated, `${msg}.`);
      return true;
    } catch (exc) {
      setError(exc);
      return false;
    } finally {
      setBusy(null);
    }
  };
  return { busy, error, run, clear: () => setError(null) };
}

function Reason({ id, label, value, onInput, required = true, min = 3, hint }) {
  return html`<${Field} id=${id} label=${label} hint=${hint}>
    <textarea id=${id} rows="3" value=${value} onInput=${(e) => onInput(e.currentTarget.value)}
      required=${required} minlength=${required ? min : undefined} maxlength="4000"></textarea><//>`;
}

/** A form with its own fields state; `fields` renders them, submit runs `action`. */
function ActionForm({ title, action, button, danger, initial, fields, act, describe }) {
  const [f, setF] = useState(initial);
  const set = (k) => (v) => setF({ ...f, [k]: v });
  const submit = async (e) => {
    e.preventDefault();
    const out = { ...f };
    if (out.disposition === "__other") out.disposition = out.other || "";
    delete out.other;
    if (await act.run(action, out)) setF(initial);
  };
  const id = `case-act-${action}`;
  return html`<form class="case-action panel" aria-labelledby=${`${id}-h`} onSubmit=${submit}>
    <h3 id=${`${id}-h`}>${title}</h3>
    ${describe ? html`<p class="muted small">${describe}</p>` : null}
    ${fields(f, set)}
    <button type="submit" class=${danger ? "danger" : "primary"} disabled=${!!act.busy}>
      ${act.busy === action ? "Working…" : button}</button>
  </form>`;
}

function PendingClose({ c }) {
  const p = c.pending_close;
  if (!p) return null;
  const mine = p.requested_by && p.requested_by === me.get()?.person;
  return html`<div class="panel case-pending" role="note" aria-label="Closing waiting for approval">
    <strong>Closing waiting for a second person:</strong> ${p.disposition?.replaceAll("_", " ")}${" "}
    requested by ${p.requested_by || "—"}${p.requested_at ? ` at ${when(p.requested_at)}` : ""}.
    <p>Reason: ${p.reason}</p>
    ${mine ? html`<p class="muted small">You requested this closing: the API lets only
      another person approve or reject it.</p>` : null}
  </div>`;
}

export function CaseActions({ c, onDone }) {
  const act = useAction(c, onDone);
  const allowed = availableActions(c, can);
  const has = (a) => allowed.includes(a);
  const person = me.get()?.person;
  if (!allowed.length) {
    return html`<p class="muted">${can("cases:work") || can("cases:close")
      ? `No action is open to you while the case is ${c.status.replaceAll("_", " ")}.`
      : "Your roles may read this case but not work it."}</p>`;
  }
  return html`<div class="case-actions">
    <${PendingClose} c=${c} />
    <${ErrorBox} error=${act.error} title="The action was refused" />
    ${act.error?.status === 409 ? html`<p class="muted small">Reload the case to see its
      current state, then try again.</p>` : null}
    ${has("claim") || has("release") ? html`<div class="row case-quick" role="group"
        aria-label="Assignment">
      ${has("claim") && c.assignee !== person ? html`<button type="button" class="primary"
        disabled=${!!act.busy} onClick=${() => act.run("claim")}>Claim</button>` : null}
      ${has("release") ? html`<button type="button" disabled=${!!act.busy}
        onClick=${() => act.run("release")}>Release</button>` : null}
      <span class="muted small">Assignee: ${c.assignee || "nobody"}${c.assignee_group
        ? ` (group ${c.assignee_group})` : ""}</span>
    </div>` : null}
    <div class="grid case-forms">
      ${has("comment") ? html`<${ActionForm} title="Add a comment" action="comment" button="Comment"
        act=${act} initial=${{ text: "" }} fields=${(f, set) => html`<${Field} id="ca-comment"
          label="Comment text"><textarea id="ca-comment" rows="3" value=${f.text} required
            maxlength="4000" onInput=${(e) => set("text")(e.currentTarget.value)}></textarea><//>`} />` : null}
      ${has("assign") ? html`<${ActionForm} title="Assign" action="assign" button="Assign"
        act=${act} initial=${{ assignee: "", assignee_group: "" }}
        describe="A person, a group, or both."
        fields=${(f, set) => html`
          <${Field} id="ca-assignee" label="Assignee"><input id="ca-assignee" type="text"
            value=${f.assignee} maxlength="256" onInput=${(e) => set("assignee")(e.currentTarget.value)} /><//>
          <${Field} id="ca-group" label="Assignee group"><input id="ca-group" type="text"
            value=${f.assignee_group} maxlength="128"
            onInput=${(e) => set("assignee_group")(e.currentTarget.value)} /><//>`} />` : null}
      ${has("escalate") ? html`<${ActionForm} title="Escalate" action="escalate" button="Escalate"
        act=${act} initial=${{ reason: "", queue: "", priority: "" }}
        fields=${(f, set) => html`
          <${Reason} id="ca-esc-reason" label="Escalation reason" value=${f.reason} onInput=${set("reason")} />
          <${Field} id="ca-esc-queue" label="To queue" hint="Empty: stays in this queue">
            <input id="ca-esc-queue" type="text" value=${f.queue} maxlength="128"
              onInput=${(e) => set("queue")(e.currentTarget.value)} /><//>
          <${Field} id="ca-esc-priority" label="Priority">
            <select id="ca-esc-priority" value=${f.priority}
              onChange=${(e) => set("priority")(e.currentTarget.value)}>
              <option value="">Keep (${c.priority})</option>
              ${PRIORITIES.map((p) => html`<option value=${p}>${p}</option>`)}
            </select><//>`} />` : null}
      ${has("close") ? html`<${ActionForm} title="Close the case" action="close" button="Close case"
        danger act=${act} initial=${{ disposition: "", other: "", reason: "" }}
        describe="A decision and its reason are both required; with four-eyes on, some decisions wait for a second person."
        fields=${(f, set) => html`
          <${Field} id="ca-close-disp" label="Decision">
            <select id="ca-close-disp" value=${f.disposition} required
              onChange=${(e) => set("disposition")(e.currentTarget.value)}>
              <option value="">Choose…</option>
              ${DISPOSITIONS.map((d) => html`<option value=${d}>${d.replaceAll("_", " ")}</option>`)}
              <option value="__other">other (configured)…</option>
            </select><//>
          ${f.disposition === "__other" ? html`<${Field} id="ca-close-other" label="Other decision"
            hint="As configured in cases.dispositions, e.g. no_action">
            <input id="ca-close-other" type="text" value=${f.other} required pattern="[a-z][a-z0-9_]*"
              maxlength="64" onInput=${(e) => set("other")(e.currentTarget.value)} /><//>` : null}
          <${Reason} id="ca-close-reason" label="Closing reason" value=${f.reason} onInput=${set("reason")} />`} />`
        : null}
      ${has("approve") ? html`<${ActionForm} title="Approve the closing" action="approve"
        button="Approve closing" act=${act} initial=${{ note: "" }}
        fields=${(f, set) => html`<${Reason} id="ca-approve-note" label="Approval note (optional)"
          required=${false} value=${f.note} onInput=${set("note")} />`} />` : null}
      ${has("reject") ? html`<${ActionForm} title="Reject the closing" action="reject" danger
        button="Reject closing" act=${act} initial=${{ note: "" }}
        describe="The case goes back in review."
        fields=${(f, set) => html`<${Reason} id="ca-reject-note" label="Rejection note" min=${1}
          value=${f.note} onInput=${set("note")} />`} />` : null}
      ${has("reopen") ? html`<${ActionForm} title="Reopen" action="reopen" button="Reopen"
        act=${act} initial=${{ reason: "" }} describe="The decision is cleared."
        fields=${(f, set) => html`<${Reason} id="ca-reopen-reason" label="Reopening reason"
          value=${f.reason} onInput=${set("reason")} />`} />` : null}
    </div>
  </div>`;
}
