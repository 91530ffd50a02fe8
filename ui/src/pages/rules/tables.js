// Reference tables (docs/tables.md): the list (Tables tab) and `#/rules/table/<name>[/<version>]`,
// one version (the latest by default) with its facts, review trail, rows and source, and
// a review form while it waits for approval. Editing: tables/edit.js; comparing two
// versions: tables/diff.js.
import { useMemo, useState } from "preact/hooks";
import { html } from "../../html.js";
import { get } from "../../api.js";
import { can } from "../../session.js";
import { parseTable, valueText } from "../../tableDiff.js";
import { Editor } from "../../editor.js";
import { ErrorBox, Loaded, Page, Pager, Table, fmt, short, useApi } from "../../ui.js";
import { ReviewTrail, StatusBadge, api, paths } from "./common.js";
import { VersionReview } from "./approvals.js";

const PER_PAGE = 25;
const ROWS_PER_PAGE = 50;

// The columns each kind defines, in the order docs/tables.md gives them.
const KIND_COLUMNS = {
  threshold: ["jurisdiction", "type", "value"],
  fx_rate: ["from", "to", "rate"],
  list: ["value"],
};

/** The API lists every table at once: page it here. */
export function TableList({ page, onPage }) {
  const state = useApi(() => get("/api/v1/tables"), []);
  const columns = [
    { key: "name", label: "Table", render: (t) => html`<a href=${paths.table(t.name)}>${t.name}</a>` },
    { key: "version", label: "Latest version",
      render: (t) => html`<a href=${paths.table(t.name, t.version)}>${t.version}</a>` },
    { key: "kind", label: "Kind" },
    { key: "status", label: "Status", render: (t) => html`<${StatusBadge} version=${t} />` },
    { key: "content_hash", label: "Content hash",
      render: (t) => html`<code title=${t.content_hash}>${short(t.content_hash)}</code>` },
    { key: "deployed_by", label: "Deployed by" },
  ];
  return html`
    ${can("rules:write") ? html`<div class="rules-buttons">
      <a class="button" href=${paths.tableCreate()}>New table</a></div>` : null}
    <${Loaded} state=${state} isEmpty=${(d) => d.items.length === 0}
      empty="No reference tables are deployed yet.">
    ${(d) => {
      const rows = d.items.slice((page - 1) * PER_PAGE, page * PER_PAGE);
      return html`<${Table} caption="Reference tables (latest version of each)" columns=${columns}
          rows=${rows} rowKey=${(t) => t.name} />
        <${Pager} page=${page} perPage=${PER_PAGE} total=${d.items.length} onPage=${onPage} />`;
    }}
  <//>`;
}

/** One version of a table: the latest answer itself when it is that version, otherwise
 * GET /api/v1/tables/{name}/versions/{version} (same body). */
export function loadVersion(name, version, latest) {
  if (latest && latest.version === version) return Promise.resolve(latest);
  return get(api.tableVersion(name, version));
}

function columnsFor(kind, rows) {
  const keys = [...(KIND_COLUMNS[kind] || [])];
  for (const r of rows) {
    for (const k of Object.keys(r && typeof r === "object" ? r : { value: r })) {
      if (!keys.includes(k) && k !== "effective_date" && k !== "expiry_date") keys.push(k);
    }
  }
  keys.push("effective_date", "expiry_date");
  const label = (k) => ({ effective_date: "Effective from", expiry_date: "Expires" })[k] ||
    k.replaceAll("_", " ").replace(/^./, (c) => c.toUpperCase());
  return keys.map((k) => ({ key: k, label: label(k),
                            render: (r) => (r?.[k] == null ? fmt(r?.[k]) : valueText(r[k])) }));
}

function Rows({ table }) {
  const [page, setPage] = useState(1);
  const parsed = useMemo(() => parseTable(table.source), [table.source]);
  if (parsed.error) {
    return html`<${ErrorBox} title="The table source does not parse here"
      error=${{ code: "YAML", message: parsed.error.message }} />`;
  }
  const doc = parsed.table;
  const rows = Array.isArray(doc.rows) ? doc.rows : [];
  const description = doc.description ? html`<p>${valueText(doc.description)}</p>` : null;
  if (!rows.length) return html`${description}<p class="empty">This version has no rows.</p>`;
  const shown = rows.slice((page - 1) * ROWS_PER_PAGE, page * ROWS_PER_PAGE);
  return html`${description}
    <${Table} caption=${`Rows of ${table.name} ${table.version}`} columns=${columnsFor(table.kind, rows)}
      rows=${shown} />
    <${Pager} page=${page} perPage=${ROWS_PER_PAGE} total=${rows.length} onPage=${setPage} />`;
}

/** The versions as links, oldest first; the one shown is the current page. */
function VersionPicker({ name, versions, current }) {
  return html`<nav class="tables-versions" aria-label=${`Versions of ${name}`}>
    <span class="muted small">Versions (oldest first):</span>
    <ul>${versions.map((v) => html`<li key=${v}>${v === current
      ? html`<a href=${paths.table(name, v)} aria-current="page">${v}</a>`
      : html`<a href=${paths.table(name, v)}>${v}</a>`}</li>`)}</ul>
  </nav>`;
}

function Version({ name, version, latest, onReviewed }) {
  const state = useApi(() => loadVersion(name, version, latest), [name, version, latest]);
  return html`<${Loaded} state=${state}>
    ${(t) => html`<section aria-labelledby="table-version-title">
      <h2 id="table-version-title">Version ${t.version}${t.version === latest.version
        ? html` <span class="muted small">(latest)</span>` : null}</h2>
      <div class="rules-two">
        <dl class="rules-facts">
          <dt>Kind</dt><dd>${t.kind}</dd>
          <dt>Content hash</dt><dd><code class="rules-hash">${t.content_hash}</code></dd>
        </dl>
        <${ReviewTrail} v=${t} />
      </div>
      ${t.status === "pending" && can("rules:approve") ? html`<${VersionReview} kind="table"
        name=${t.name} version=${t.version} onDone=${() => { state.reload(); onReviewed(); }} />`
        : null}
      <h3>Rows</h3>
      <${Rows} table=${t} />
      <h3>Source</h3>
      <${Editor} value=${t.source} readOnly label=${`Table source of ${t.name} ${t.version}`} />
    </section>`}
  <//>`;
}

export function TableDetail({ name, version }) {
  const state = useApi(() => get(api.table(name)), [name]);
  const latest = state.data;
  const versions = latest?.versions || [];
  const shown = version || latest?.version;
  const at = versions.indexOf(shown);
  const actions = latest ? html`
    ${versions.length > 1 ? html`<a class="button" href=${paths.tableDiff(name,
      versions[at > 0 ? at - 1 : versions.length - 2], at > 0 ? shown : latest.version)}>Compare versions</a>`
      : null}
    ${can("rules:write") ? html`<a class="button" href=${paths.tableEdit(name)}>New version</a>` : null}`
    : null;
  return html`<${Page} title=${`Table ${name}`} actions=${actions} wide>
    <p><a href=${paths.list("tables")}>← All tables</a></p>
    <${Loaded} state=${state}>
      ${(t) => html`
        <${VersionPicker} name=${name} versions=${t.versions} current=${shown} />
        ${t.versions.includes(shown)
          ? html`<${Version} key=${shown} name=${name} version=${shown} latest=${t}
              onReviewed=${state.reload} />`
          : html`<p role="alert">No version ${shown} of table ${name}; its versions are
              ${t.versions.join(", ")}.</p>`}`}
    <//>
  <//>`;
}
