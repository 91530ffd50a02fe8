// The Rules section: rules, reference tables, rulesets and four-eyes approvals.
// Routes (hash paths; names are one encoded segment each):
//   #/rules[?tab=rules|tables|rulesets|approvals&page=N]   the index, one tab each
//   #/rules/new                                            write a new rule
//   #/rules/rule/<name>[/<version>]                        a rule, a version (latest)
//   #/rules/rule/<name>/edit                               edit from the latest version
//   #/rules/rule/<name>/diff?from=&to=                     compare two versions
//   #/rules/table-new                                      write a new reference table
//   #/rules/table/<name>[/<version>]                       a table, a version (latest)
//   #/rules/table/<name>/edit                              a new version from the latest
//   #/rules/table/<name>/diff?from=&to=                    compare two versions
//   #/rules/ruleset/<name>                                 read-only details
import { html } from "../html.js";
import { Page } from "../ui.js";
import { RulesIndex } from "./rules/list.js";
import { RuleDetail } from "./rules/detail.js";
import { RuleEditor } from "./rules/edit.js";
import { RuleDiff } from "./rules/diff.js";
import { TableDetail } from "./rules/tables.js";
import { TableEditor } from "./rules/tables/edit.js";
import { TableDiff } from "./rules/tables/diff.js";
import { RulesetDetail } from "./rules/rulesets.js";

function NotFound({ path }) {
  return html`<${Page} title="Not found">
    <p role="alert">No such page in Rules: <code>${path}</code>. <a href="#/rules">All rules</a></p>
  <//>`;
}

export function RulesPage({ route }) {
  const [, kind, name, sub, ...rest] = route.parts;
  if (!kind) return html`<${RulesIndex} route=${route} />`;
  if (kind === "new" && !name) return html`<${RuleEditor} key="new" />`;
  if (kind === "rule" && name && !rest.length) {
    if (sub === "edit") return html`<${RuleEditor} key=${`edit/${name}`} name=${name} />`;
    if (sub === "diff") return html`<${RuleDiff} key=${`diff/${name}`} name=${name} query=${route.query} />`;
    return html`<${RuleDetail} key=${`rule/${name}`} name=${name} version=${sub} />`;
  }
  if (kind === "table-new" && !name) return html`<${TableEditor} key="table-new" />`;
  if (kind === "table" && name && !rest.length) {
    if (sub === "edit") return html`<${TableEditor} key=${`edit/${name}`} name=${name} />`;
    if (sub === "diff") return html`<${TableDiff} key=${`diff/${name}`} name=${name} query=${route.query} />`;
    return html`<${TableDetail} key=${`table/${name}`} name=${name} version=${sub} />`;
  }
  if (kind === "ruleset" && name && !sub) return html`<${RulesetDetail} name=${name} />`;
  return html`<${NotFound} path=${route.path} />`;
}
