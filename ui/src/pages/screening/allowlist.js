// `#/screening/allowlist`: the false-positive decisions (this customer is not that listed
// entity), filtered by the URL's query, paginated; `#/screening/allowlist/new` records one.
import { useEffect, useState } from "preact/hooks";
import { html } from "../../html.js";
import { get, post } from "../../api.js";
import { href, navigate, seg } from "../../router.js";
import { can } from "../../session.js";
import { Badge, Empty, ErrorBox, Field, Loading, Pager, Table, useApi, when } from "../../ui.js";

const PER_PAGE = 25;
export const STATUSES = ["pending", "active", "rejected", "revoked"];
const FILTERS = ["subject_id", "entity_id", "status"];
const BASE = "/screening/allowlist";

export const entryHref = (id) => href(`${BASE}/${seg(id)}`);

const COLUMNS = [
  { key: "id", label: "Decision", render: (e) => html`<a href=${entryHref(e.id)}
      onClick=${(ev) => ev.stopPropagation()}><code>${e.id}</code></a>` },
  { key: "subject_id", label: "Customer", render: (e) => html`<code>${e.subject_id}</code>` },
  { key: "entity", label: "Listed entity", render: (e) => html`${e.entity_caption || ""}
      <span class="muted small"> <code>${e.entity_id}</code></span>` },
  { key: "status", label: "Status", render: (e) => html`<${Badge} value=${e.status} />` },
  { key: "created_by", label: "Recorded by" },
  { key: "created_at", label: "Recorded", render: (e) => html`<time datetime=${e.created_at}>
      ${when(e.created_at)}</time>` },
  { key: "reason", label: "Reason", render: (e) => html`<span class="al-reason">${e.reason}</span>` },
];

function Filters({ query, onApply }) {
  const init = () => ({ subject_id: query.subject_id || "", entity_id: query.entity_id || "",
                        status: query.status || "" });
  const [f, setF] = useState(init);
  useEffect(() => setF(init()), [FILTERS.map((k) => query[k] || "").join("\u0000")]);
  const set = (k) => (e) => setF({ ...f, [k]: e.currentTarget.value });
  const submit = (e) => {
    e.preventDefault();
    onApply({ subject_id: f.subject_id.trim(), entity_id: f.entity_id.trim(), status: f.status });
  };
  const any = FILTERS.some((k) => query[k]);
  return html`<form class="filters" role="search" aria-label="Filter allowlist decisions"
      onSubmit=${submit}>
    <${Field} id="al-f-subject" label="Customer id">
      <input id="al-f-subject" type="text" value=${f.subject_id} onInput=${set("subject_id")} /><//>
    <${Field} id="al-f-entity" label="Entity id">
      <input id="al-f-entity" type="text" value=${f.entity_id} onInput=${set("entity_id")} /><//>
    <${Field} id="al-f-status" label="Status">
      <select id="al-f-status" value=${f.status} onChange=${set("status")}>
        <option value="">Any</option>
        ${STATUSES.map((s) => html`<option value=${s}>${s}</option>`)}
      </select><//>
    <div class="filter-buttons">
      <button type="submit" class="primary">Apply filters</button>
      ${any ? html`<button type="button" onClick=${() => onApply({})}>Clear filters</button>` : null}
    </div>
  </form>`;
}

export function AllowlistList({ query }) {
  const page = Math.max(1, Number(query.page) || 1);
  const q = { page, per_page: PER_PAGE };
  for (const k of FILTERS) if (query[k]) q[k] = query[k];
  const key = JSON.stringify(q);
  const state = useApi(() => get("/api/v1/screening/allowlist", JSON.parse(key)), [key]);
  const filtered = FILTERS.some((k) => query[k]);
  const data = state.data;
  let body;
  if (state.error) body = html`<${ErrorBox} error=${state.error} title="The allowlist could not be read" />`;
  else if (!data) body = html`<${Loading} what="Loading the allowlist" />`;
  else if (!data.items.length) {
    body = html`<${Empty}>${filtered ? "No decision matches these filters."
      : page > 1 ? "No decisions on this page." : "No false-positive decision recorded yet."}<//>`;
  } else {
    body = html`<${Table} caption="Allowlist decisions" columns=${COLUMNS} rows=${data.items}
      rowKey=${(e) => e.id} onRow=${(e) => navigate(`${BASE}/${seg(e.id)}`)} />`;
  }
  return html`
    <div class="row al-head">
      <h2>Allowlist decisions</h2>
      ${can("screening:write") ? html`<a class="button primary" href=${href(`${BASE}/new`)}>Record a decision</a>` : null}
      <button type="button" onClick=${state.reload}>Reload</button>
    </div>
    <${Filters} query=${query} onApply=${(f) => navigate(BASE, { ...f, page: undefined })} />
    ${state.loading && data ? html`<${Loading} what="Refreshing" />` : null}
    ${body}
    ${data && (data.items.length || page > 1) ? html`<${Pager} page=${page} perPage=${data.per_page}
      total=${data.total} onPage=${(p) => navigate(BASE, { ...query, page: p > 1 ? p : undefined })} />` : null}`;
}

/** Record a false-positive decision (screening:write), prefilled from a match's link. */
export function RecordDecision({ query }) {
  const [f, setF] = useState({ subject_id: query.subject_id || "", entity_id: query.entity_id || "",
                               reason: "" });
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const set = (k) => (e) => setF({ ...f, [k]: e.currentTarget.value });
  if (!can("screening:write")) {
    return html`<p role="alert">Your roles do not grant <code>screening:write</code>, which
      recording a decision needs.</p>`;
  }
  const submit = async (e) => {
    e.preventDefault();
    setBusy(true); setError(null);
    try {
      const entry = await post("/api/v1/screening/allowlist", {
        subject_id: f.subject_id.trim(), entity_id: f.entity_id.trim(), reason: f.reason });
      navigate(`${BASE}/${seg(entry.id)}`, { recorded: 1 });
    } catch (exc) {
      setError(exc);
    } finally {
      setBusy(false);
    }
  };
  return html`<h2>Record a false positive</h2>
    <p class="muted">This customer is not that listed entity. Later screenings of the customer
      skip the entity (once approved, where four-eyes is on) until the entity's list data changes.</p>
    <form class="panel al-form" aria-label="Record a false positive" onSubmit=${submit}>
      <${Field} id="al-subject" label="Customer id" hint="As rules pass it in subject_id">
        <input id="al-subject" type="text" value=${f.subject_id} onInput=${set("subject_id")}
          required maxlength="256" /><//>
      <${Field} id="al-entity" label="Entity id" hint="A match's entity id, e.g. putin">
        <input id="al-entity" type="text" value=${f.entity_id} onInput=${set("entity_id")}
          required maxlength="256" /><//>
      <${Field} id="al-reason" label="Reason" hint="Why they are not the same (3 to 2000 characters; kept in the audit log)">
        <textarea id="al-reason" rows="4" value=${f.reason} onInput=${set("reason")} required
          minlength="3" maxlength="2000"></textarea><//>
      <${ErrorBox} error=${error} title="The decision was not recorded" />
      <div class="row">
        <button type="submit" class="primary" disabled=${busy}>Record decision</button>
        <a href=${href(BASE)}>Cancel</a>
      </div>
    </form>`;
}
