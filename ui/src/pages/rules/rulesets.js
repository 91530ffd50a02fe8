// Rulesets, read-only: the list (Rulesets tab) and `#/rules/ruleset/<name>`, the latest
// version's spec: its rule references with version ranges, order and decision strategy.
import { html } from "../../html.js";
import { get } from "../../api.js";
import { JsonView, Loaded, Page, Pager, Table, fmt, useApi } from "../../ui.js";
import { ReviewTrail, StatusBadge, api, paths } from "./common.js";

const PER_PAGE = 25;

/** The API lists every ruleset at once: page it here. */
export function RulesetList({ page, onPage }) {
  const state = useApi(() => get("/api/v1/rulesets"), []);
  const columns = [
    { key: "name", label: "Ruleset", render: (s) => html`<a href=${paths.ruleset(s.name)}>${s.name}</a>` },
    { key: "version", label: "Latest version" },
    { key: "rules", label: "Rules", className: "num", render: (s) => s.rules.length },
    { key: "jurisdiction", label: "Jurisdiction", render: (s) => fmt(s.metadata?.jurisdiction) },
    { key: "domain", label: "Domain", render: (s) => fmt(s.metadata?.domain) },
    { key: "status", label: "Status", render: (s) => html`<${StatusBadge} version=${s} />` },
    { key: "deployed_by", label: "Deployed by" },
  ];
  return html`<${Loaded} state=${state} isEmpty=${(d) => d.items.length === 0}
      empty="No rulesets are deployed yet.">
    ${(d) => html`<${Table} caption="Rulesets (latest version of each)" columns=${columns}
        rows=${d.items.slice((page - 1) * PER_PAGE, page * PER_PAGE)} rowKey=${(s) => s.name} />
      <${Pager} page=${page} perPage=${PER_PAGE} total=${d.items.length} onPage=${onPage} />`}
  <//>`;
}

const REF_COLUMNS = [
  { key: "ref", label: "Rule", render: (r) => html`<a href=${paths.rule(r.ref)}>${r.ref}</a>` },
  { key: "version", label: "Version range", render: (r) => html`<code>${r.version}</code>` },
  { key: "required", label: "Required", render: (r) => fmt(r.required !== false) },
  { key: "depends_on", label: "Runs after",
    render: (r) => (r.depends_on?.length ? r.depends_on.join(", ") : fmt(null)) },
];

export function RulesetDetail({ name }) {
  const state = useApi(() => get(api.ruleset(name)), [name]);
  return html`<${Page} title=${`Ruleset ${name}`} wide>
    <p><a href=${paths.list("rulesets")}>← All rulesets</a></p>
    <${Loaded} state=${state}>
      ${(s) => html`
        <dl class="rules-facts">
          <dt>Latest version</dt><dd>${s.version}</dd>
          <dt>Versions</dt><dd>${s.versions.join(", ")}</dd>
          ${Object.entries(s.metadata || {}).filter(([k]) => k !== "name" && k !== "version")
            .map(([k, v]) => html`<dt>${k.replaceAll("_", " ")}</dt><dd>${fmt(v)}</dd>`)}
          <dt>Evaluation order</dt><dd>${fmt(s.evaluation_order)}</dd>
          <dt>Aggregate decision</dt><dd>${fmt(s.aggregate_decision?.strategy ?? s.aggregate_decision)}</dd>
        </dl>
        <${ReviewTrail} v=${s} />
        <h2>Rules</h2>
        ${s.rules.length ? html`<${Table} caption=${`Rules of ${s.name} ${s.version}`}
          columns=${REF_COLUMNS} rows=${s.rules} rowKey=${(r) => r.ref} />`
          : html`<p class="empty">This ruleset references no rules.</p>`}
        <details class="rules-source">
          <summary>Full specification (JSON)</summary>
          <${JsonView} label=${`Specification of ${s.name} ${s.version}`}
            value=${{ metadata: s.metadata, rules: s.rules, evaluation_order: s.evaluation_order,
                      aggregate_decision: s.aggregate_decision }} />
        </details>`}
    <//>
  <//>`;
}
