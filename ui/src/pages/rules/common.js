// Shared pieces of the Rules section: its routes, the status of a version as users read
// it, and small views used by several screens.
import { html } from "../../html.js";
import { href, seg } from "../../router.js";
import { Badge, when } from "../../ui.js";

export const paths = {
  list: (tab) => href("/rules", tab && tab !== "rules" ? { tab } : {}),
  rule: (name, version) => href(`/rules/rule/${seg(name)}${version ? `/${seg(version)}` : ""}`),
  edit: (name) => href(`/rules/rule/${seg(name)}/edit`),
  diff: (name, from, to) => href(`/rules/rule/${seg(name)}/diff`, { from, to }),
  create: () => href("/rules/new"),
  table: (name, version) => href(`/rules/table/${seg(name)}${version ? `/${seg(version)}` : ""}`),
  tableEdit: (name) => href(`/rules/table/${seg(name)}/edit`),
  tableDiff: (name, from, to) => href(`/rules/table/${seg(name)}/diff`, { from, to }),
  tableCreate: () => href("/rules/table-new"),
  ruleset: (name) => href(`/rules/ruleset/${seg(name)}`),
};

export const api = {
  rule: (name) => `/api/v1/rules/${seg(name)}`,
  ruleVersions: (name) => `/api/v1/rules/${seg(name)}/versions`,
  ruleVersion: (name, version) => `/api/v1/rules/${seg(name)}/versions/${seg(version)}`,
  table: (name) => `/api/v1/tables/${seg(name)}`,
  tableVersion: (name, version) => `/api/v1/tables/${seg(name)}/versions/${seg(version)}`,
  ruleset: (name) => `/api/v1/rulesets/${seg(name)}`,
};

/** Today in UTC as YYYY-MM-DD: dates in rules are calendar dates, compared as text. */
export function today() {
  return new Date().toISOString().slice(0, 10);
}

/** active / pending_approval / rejected / expired (an active version whose expiry_date,
 * exclusive, is today or before). */
export function ruleStatus(v, now = today()) {
  if (v.status === "pending") return "pending_approval";
  if (v.status === "rejected") return "rejected";
  if (v.expiry_date && String(v.expiry_date).slice(0, 10) <= now) return "expired";
  return v.status || "active";
}

export function StatusBadge({ version }) {
  return html`<${Badge} value=${ruleStatus(version)} />`;
}

/** The review trail of a version: who deployed it, who reviewed it, when and why. */
export function ReviewTrail({ v }) {
  return html`<dl class="rules-facts">
    <dt>Status</dt><dd><${StatusBadge} version=${v} /></dd>
    <dt>Deployed by</dt><dd>${v.deployed_by || "—"}${v.created_at ? ` · ${when(v.created_at)}` : ""}</dd>
    <dt>Reviewed by</dt><dd>${v.reviewed_by ? `${v.reviewed_by} · ${when(v.reviewed_at)}` : "not reviewed"}</dd>
    ${v.review_note ? html`<dt>Review note</dt><dd>${v.review_note}</dd>` : null}
  </dl>`;
}

/** Semver order, for version pickers (the API lists oldest first already). */
export function compareVersions(a, b) {
  const pa = String(a).split(/[.+-]/).map((x) => (/^\d+$/.test(x) ? Number(x) : x));
  const pb = String(b).split(/[.+-]/).map((x) => (/^\d+$/.test(x) ? Number(x) : x));
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    if (pa[i] === pb[i]) continue;
    if (pa[i] === undefined) return -1;
    if (pb[i] === undefined) return 1;
    return pa[i] < pb[i] ? -1 : 1;
  }
  return 0;
}

/** Page number from the route's query (1 if absent or bad). */
export function pageOf(query) {
  const n = Number.parseInt(query.page, 10);
  return Number.isFinite(n) && n > 0 ? n : 1;
}
