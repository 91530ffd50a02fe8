// Four-eyes approval (docs/security.md): the versions waiting for a second person, each
// with Approve / Reject and a note for the audit log. The API refuses a reviewer who is
// behind the deploy (403 E_SAME_PERSON); that answer is shown as it states it.
import { useState } from "preact/hooks";
import { html } from "../../html.js";
import { post, get } from "../../api.js";
import { seg } from "../../router.js";
import { can } from "../../session.js";
import { ErrorBox, Loaded, Pager, when, useApi, short } from "../../ui.js";
import { paths } from "./common.js";

const COLLECTION = { rule: "rules", ruleset: "rulesets", table: "tables", schema: "schemas" };

/** Where a pending version can be read (schemas have no screen of their own). */
function linkOf(item) {
  if (item.kind === "rule") return paths.rule(item.name, item.version);
  if (item.kind === "table") return paths.table(item.name, item.version);
  if (item.kind === "ruleset") return paths.ruleset(item.name);
  return null;
}

export function reviewPath(kind, name, version, verdict) {
  return `/api/v1/${COLLECTION[kind]}/${seg(name)}/versions/${seg(version)}/${verdict}`;
}

/** Who deployed a pending version, as persons when the API knows them. */
function deployer(item) {
  const persons = item.deployed_by_persons || [];
  return persons.length ? persons.join(", ") : item.deployed_by || "—";
}

/** Approve / Reject one pending version. `onDone(view, verdict)` after the API accepted.
 * `item`: its entry in GET /api/v1/approvals, whose `reviewable` is false for what the
 * signed-in person deployed (no buttons then: the API would refuse them). */
export function ReviewForm({ kind, name, version, item, onDone }) {
  const [note, setNote] = useState("");
  const [busy, setBusy] = useState(null);
  const [error, setError] = useState(null);
  if (!can("rules:approve")) return null;
  if (item && item.reviewable === false) {
    return html`<p class="muted">Deployed by ${deployer(item)}, that is, by you: another
      person with <code>rules:approve</code> must approve or reject it.</p>`;
  }
  const id = `review-${kind}-${name}-${version}`.replace(/[^\w-]/g, "_");
  const review = async (verdict) => {
    setBusy(verdict);
    setError(null);
    try {
      const body = note.trim() ? { note: note.trim() } : {};
      const view = await post(reviewPath(kind, name, version, verdict), body);
      onDone?.(view, verdict);
    } catch (exc) {
      setError(exc);
    } finally {
      setBusy(null);
    }
  };
  return html`<form class="rules-review" onSubmit=${(e) => e.preventDefault()}
      aria-labelledby=${`${id}-what`}>
    <span id=${`${id}-what`} class="rules-sr-only">Review ${kind} ${name} ${version}</span>
    <div class="field">
      <label for=${`${id}-note`}>Note (the reason, kept in the audit log)</label>
      <textarea id=${`${id}-note`} rows="2" maxlength="2000" value=${note}
        onInput=${(e) => setNote(e.currentTarget.value)}></textarea>
    </div>
    <div class="rules-buttons">
      <button type="button" class="primary" disabled=${!!busy} aria-describedby=${`${id}-what`}
        onClick=${() => review("approve")}>${busy === "approve" ? "Approving…" : "Approve"}</button>
      <button type="button" class="danger" disabled=${!!busy} aria-describedby=${`${id}-what`}
        onClick=${() => review("reject")}>${busy === "reject" ? "Rejecting…" : "Reject"}</button>
    </div>
    <${ErrorBox} error=${error} title=${`Could not review ${kind} ${name} ${version}`} />
  </form>`;
}

/** The review of one version on its own page: the form, unless it is one's own. */
export function VersionReview({ kind, name, version, onDone }) {
  const state = useApi(() => get("/api/v1/approvals"), [kind, name, version]);
  if (!state.data) return null;
  const item = state.data.items.find((i) => i.kind === kind && i.name === name &&
                                             i.version === version);
  return html`<h3>Review this version</h3>
    <${ReviewForm} kind=${kind} name=${name} version=${version} item=${item} onDone=${onDone} />`;
}

const PER_PAGE = 20;

export function ApprovalList() {
  const state = useApi(() => get("/api/v1/approvals"), []);
  const [page, setPage] = useState(1);
  const [done, setDone] = useState([]);
  const finished = (item) => (view, verdict) => {
    setDone((d) => [...d, `${verdict === "approve" ? "Approved" : "Rejected"} ${item.kind} ` +
                          `${item.name} ${item.version} (now ${view?.status ?? verdict}).`]);
    state.reload();
  };
  return html`
    ${done.length ? html`<ul class="rules-done" role="status">
      ${done.map((m) => html`<li>${m}</li>`)}</ul>` : null}
    ${can("rules:approve") ? null : html`<p class="muted">Your roles do not include${" "}
      <code>rules:approve</code>: you can see what waits for review, not review it.</p>`}
    <${Loaded} state=${state} isEmpty=${(d) => d.items.length === 0}
        empty="Nothing is waiting for approval.">
      ${(d) => html`<ul class="rules-approvals" aria-label="Versions waiting for approval">
        ${d.items.slice((page - 1) * PER_PAGE, page * PER_PAGE).map((item) => {
          const link = linkOf(item);
          const title = `${item.kind} ${item.name} ${item.version}`;
          return html`<li key=${`${item.kind}/${item.name}/${item.version}`}>
            <article class="rules-card" aria-label=${title}>
              <h2 class="rules-card-title">${link ? html`<a href=${link}>${title}</a>` : title}</h2>
              <dl class="rules-facts">
                <dt>Deployed by</dt><dd title=${item.deployed_by || ""}>${deployer(item)}</dd>
                <dt>Deployed at</dt><dd>${when(item.created_at)}</dd>
                <dt>Source hash</dt><dd><code title=${item.source_hash}>${short(item.source_hash)}</code></dd>
              </dl>
              <${ReviewForm} kind=${item.kind} name=${item.name} version=${item.version}
                item=${item} onDone=${finished(item)} />
            </article>
          </li>`;
        })}
      </ul>
      <${Pager} page=${Math.min(page, Math.max(1, Math.ceil(d.items.length / PER_PAGE)))}
        perPage=${PER_PAGE} total=${d.items.length} onPage=${setPage} />`}
    <//>`;
}
