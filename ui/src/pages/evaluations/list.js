// `#/evaluations`: the tenant's evaluations, most recently stored first, filtered by the URL's query.
import { html } from "../../html.js";
import { get } from "../../api.js";
import { href, navigate, seg } from "../../router.js";
import { can } from "../../session.js";
import { Badge, Empty, ErrorBox, Loading, Page, Pager, Table, useApi, when } from "../../ui.js";
import { FILTER_KEYS, Filters, apiQuery } from "./filters.js";

const PER_PAGE = 25;

/** Names of the rules that ran (not skipped), with their versions. */
export function rulesRan(rec) {
  const ran = (rec.rule_results || []).filter((r) => r.status !== "skipped");
  return ran.map((r) => `${r.rule_id}@${r.version}`);
}

/** Flag categories raised, each once, in order. */
export function flagCategories(rec) {
  return [...new Set((rec.result?.flags || []).map((f) => f.category).filter(Boolean))];
}

export const detailHref = (id) => href(`/evaluations/${seg(id)}`);

const COLUMNS = [
  { key: "timestamp", label: "Time", render: (r) => html`<time datetime=${r.timestamp}>${when(r.timestamp)}</time>` },
  { key: "evaluation_id", label: "Evaluation", render: (r) => html`<a href=${detailHref(r.evaluation_id)}
      onClick=${(e) => e.stopPropagation()}><code>${r.evaluation_id}</code></a>` },
  { key: "decision", label: "Decision", render: (r) => html`<${Badge} value=${r.result?.decision || "unknown"} />` },
  { key: "rules", label: "Rules that ran", render: (r) => {
    const ran = rulesRan(r);
    return ran.length ? html`<ul class="plain">${ran.map((x) => html`<li><code>${x}</code></li>`)}</ul>`
      : html`<span class="muted">none</span>`;
  } },
  { key: "flags", label: "Flags", render: (r) => {
    const cats = flagCategories(r);
    return cats.length ? html`<ul class="plain">${cats.map((c) => html`<li><${Badge} value=${c} tone="bad" /></li>`)}</ul>`
      : html`<span class="muted">none</span>`;
  } },
];

export function EvaluationList({ query }) {
  const page = Math.max(1, Number(query.page) || 1);
  const key = JSON.stringify(apiQuery(query, PER_PAGE));
  const state = useApi(() => get("/api/v1/evaluations", JSON.parse(key)), [key]);
  const filtered = FILTER_KEYS.some((k) => query[k]);
  const apply = (f) => navigate("/evaluations", { ...f, page: undefined });
  const toPage = (p) => navigate("/evaluations", { ...query, page: p > 1 ? p : undefined });
  const actions = can("evaluations:create")
    ? html`<a class="button primary" href="#/evaluations/new">New evaluation</a>` : null;
  const data = state.data;
  let body;
  if (state.error) body = html`<${ErrorBox} error=${state.error} />`;
  else if (!data) body = html`<${Loading} what="Loading evaluations" />`;
  else if (!data.items.length) {
    body = html`<${Empty}>${filtered ? "No evaluation matches these filters."
      : page > 1 ? "No evaluations on this page." : "No evaluations yet."}<//>`;
  } else {
    body = html`<${Table} caption=${`Evaluations, most recently stored first${filtered ? " (filtered)" : ""}`}
      columns=${COLUMNS} rows=${data.items} rowKey=${(r) => r.evaluation_id}
      onRow=${(r) => navigate(`/evaluations/${seg(r.evaluation_id)}`)} />`;
  }
  return html`<${Page} title="Evaluations" actions=${actions} wide>
    <${Filters} query=${query} onApply=${apply} />
    ${state.loading && data ? html`<${Loading} what="Refreshing" />` : null}
    ${body}
    ${data && (data.items.length || page > 1) ? html`<${Pager} page=${page} perPage=${data.per_page}
      total=${data.total} onPage=${toPage} />` : null}
  <//>`;
}
