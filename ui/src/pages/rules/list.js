// `#/rules?tab=rules|tables|rulesets|approvals&page=N`: the section's index, one tab each.
import { html } from "../../html.js";
import { get } from "../../api.js";
import { navigate } from "../../router.js";
import { can } from "../../session.js";
import { Loaded, Page, Pager, TabPanel, Table, Tabs, useApi } from "../../ui.js";
import { StatusBadge, pageOf, paths } from "./common.js";
import { TableList } from "./tables.js";
import { RulesetList } from "./rulesets.js";
import { ApprovalList } from "./approvals.js";

const TABS = [
  { id: "rules", label: "Rules" },
  { id: "tables", label: "Tables" },
  { id: "rulesets", label: "Rulesets" },
  { id: "approvals", label: "Approvals" },
];
const PER_PAGE = 25;

function RuleList({ page, onPage }) {
  const state = useApi(() => get("/api/v1/rules", { page, per_page: PER_PAGE }), [page]);
  const columns = [
    { key: "name", label: "Rule", render: (r) => html`<a href=${paths.rule(r.name)}>${r.name}</a>` },
    { key: "version", label: "Latest version",
      render: (r) => html`<a href=${paths.rule(r.name, r.version)}>${r.version}</a>` },
    { key: "versions", label: "Versions", className: "num", render: (r) => r.versions.length },
    { key: "status", label: "Latest version's status", render: (r) => html`<${StatusBadge} version=${r} />` },
    { key: "jurisdiction", label: "Jurisdiction" },
    { key: "domain", label: "Domain" },
    { key: "effective_date", label: "Effective" },
    { key: "expiry_date", label: "Expires" },
    { key: "deployed_by", label: "Deployed by" },
  ];
  return html`<${Loaded} state=${state} isEmpty=${(d) => d.total === 0 && page === 1}
      empty=${"No rules are deployed yet."}>
    ${(d) => html`
      ${d.items.length ? html`<${Table} caption="Rules (latest version of each)" columns=${columns}
        rows=${d.items} rowKey=${(r) => r.name} />` : html`<p class="empty">No rules on this page.</p>`}
      <${Pager} page=${page} perPage=${d.per_page || PER_PAGE} total=${d.total} onPage=${onPage} />`}
  <//>`;
}

export function RulesIndex({ route }) {
  const tab = TABS.some((t) => t.id === route.query.tab) ? route.query.tab : "rules";
  const page = pageOf(route.query);
  const setTab = (id) => navigate("/rules", id === "rules" ? {} : { tab: id });
  const onPage = (p) => navigate("/rules", { tab: tab === "rules" ? undefined : tab, page: p });
  const actions = can("rules:write")
    ? html`<a class="button" href=${paths.create()}>New rule</a>` : null;
  return html`<${Page} title="Rules" actions=${actions} wide>
    <${Tabs} tabs=${TABS} active=${tab} onChange=${setTab} label="Rules section" />
    <${TabPanel} id=${tab}>
      ${tab === "rules" ? html`<${RuleList} page=${page} onPage=${onPage} />` : null}
      ${tab === "tables" ? html`<${TableList} page=${page} onPage=${onPage} />` : null}
      ${tab === "rulesets" ? html`<${RulesetList} page=${page} onPage=${onPage} />` : null}
      ${tab === "approvals" ? html`<${ApprovalList} />` : null}
    <//>
  <//>`;
}

