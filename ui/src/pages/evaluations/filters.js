// The list's filters, kept in the URL (`#/evaluations?decision=...`) so that a view can be
// shared or bookmarked. Date inputs are read and shown in UTC, as the records are.
import { useEffect, useState } from "preact/hooks";
import { html } from "../../html.js";
import { Field } from "../../ui.js";

export const FILTER_KEYS = ["decision", "rule_id", "from", "to", "flag", "entity"];
export const DECISIONS = ["compliant", "needs_review", "non_compliant"];

/** `2024-01-15T14:00` (a datetime-local value, taken as UTC) as RFC 3339; `to` ends at the
 * last instant of its minute so that the range is inclusive as displayed. */
export function toRfc3339(local, end = false) {
  if (!local) return "";
  const m = /^(\d{4}-\d{2}-\d{2})(?:T(\d{2}:\d{2})(?::(\d{2}))?)?$/.exec(local);
  if (!m) return "";
  const [, day, hm, sec] = m;
  if (!hm) return `${day}T${end ? "23:59:59.999" : "00:00:00"}Z`;
  if (sec) return `${day}T${hm}:${sec}Z`;
  return `${day}T${hm}:${end ? "59.999" : "00"}Z`;
}

/** An RFC 3339 value from the URL back into a datetime-local value (UTC). */
export function toLocalInput(rfc) {
  if (!rfc) return "";
  const d = new Date(rfc);
  if (Number.isNaN(d.getTime())) return "";
  return d.toISOString().slice(0, 16);
}

/** The API query for a route query: only known filters, non-empty. */
export function apiQuery(query, perPage) {
  const q = { order: "desc", page: Number(query.page) || 1, per_page: perPage };
  for (const k of FILTER_KEYS) if (query[k]) q[k] = query[k];
  return q;
}

export function Filters({ query, onApply }) {
  const init = () => ({
    decision: query.decision || "", rule_id: query.rule_id || "",
    from: toLocalInput(query.from), to: toLocalInput(query.to),
    flag: query.flag || "", entity: query.entity || "",
  });
  const [f, setF] = useState(init);
  // Follow the URL (back/forward, a shared link) rather than keep stale edits.
  useEffect(() => setF(init()), [FILTER_KEYS.map((k) => query[k] || "").join("\u0000")]);
  const set = (k) => (e) => setF({ ...f, [k]: e.currentTarget.value });
  const submit = (e) => {
    e.preventDefault();
    onApply({ decision: f.decision, rule_id: f.rule_id.trim(), from: toRfc3339(f.from),
              to: toRfc3339(f.to, true), flag: f.flag.trim(), entity: f.entity.trim() });
  };
  const clear = () => onApply({});
  const any = FILTER_KEYS.some((k) => query[k]);
  return html`<form class="filters eval-filters" role="search" aria-label="Filter evaluations"
      onSubmit=${submit}>
    <${Field} id="ev-decision" label="Decision">
      <select id="ev-decision" value=${f.decision} onChange=${set("decision")}>
        <option value="">Any</option>
        ${DECISIONS.map((d) => html`<option value=${d}>${d.replaceAll("_", " ")}</option>`)}
      </select><//>
    <${Field} id="ev-rule" label="Rule">
      <input id="ev-rule" type="text" value=${f.rule_id} onInput=${set("rule_id")}
        placeholder="exact rule name" maxlength="200" /><//>
    <${Field} id="ev-from" label="From">
      <input id="ev-from" type="datetime-local" value=${f.from} onInput=${set("from")}
        aria-describedby="ev-utc" /><//>
    <${Field} id="ev-to" label="To">
      <input id="ev-to" type="datetime-local" value=${f.to} onInput=${set("to")}
        aria-describedby="ev-utc" /><//>
    <${Field} id="ev-flag" label="Flag category">
      <input id="ev-flag" type="text" value=${f.flag} onInput=${set("flag")}
        placeholder="e.g. CTR_REQUIRED" maxlength="200" /><//>
    <${Field} id="ev-entity" label="Entity">
      <input id="ev-entity" type="text" value=${f.entity} onInput=${set("entity")}
        placeholder="transaction or customer id" maxlength="200" /><//>
    <div class="filter-buttons">
      <button type="submit" class="primary">Apply filters</button>
      ${any ? html`<button type="button" onClick=${clear}>Clear filters</button>` : null}
    </div>
    <small id="ev-utc" class="muted eval-utc">Times are UTC, both ends included.</small>
  </form>`;
}
