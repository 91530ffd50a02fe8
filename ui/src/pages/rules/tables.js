// Reference tables, read-only: the list (Tables tab) and `#/rules/table/<name>`, the
// latest version with its rows as a table (docs/tables.md).
import { useMemo, useState } from "preact/hooks";
import { html } from "../../html.js";
import { get } from "../../api.js";
import { parseExact } from "../../ruleDiff.js";
import { Editor } from "../../editor.js";
import { ErrorBox, Loaded, Page, Pager, Table, fmt, short, useApi } from "../../ui.js";
import { ReviewTrail, StatusBadge, api, paths } from "./common.js";

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
    { key: "version", label: "Latest version" },
    { key: "kind", label: "Kind" },
    { key: "status", label: "Status", render: (t) => html`<${StatusBadge} version=${t} />` },
    { key: "content_hash", label: "Content hash",
      render: (t) => html`<code title=${t.content_hash}>${short(t.content_hash)}</code>` },
    { key: "deployed_by", label: "Deployed by" },
  ];
  return html`<${Loaded} state=${state} isEmpty=${(d) => d.items.length === 0}
      empty="No reference tables are deployed yet.">
    ${(d) => {
      const rows = d.items.slice((page - 1) * PER_PAGE, page * PER_PAGE);
      return html`<${Table} caption="Reference tables (latest version of each)" columns=${columns}
          rows=${rows} rowKey=${(t) => t.name} />
        <${Pager} page=${page} perPage=${PER_PAGE} total=${d.items.length} onPage=${onPage} />`;
    }}
  <//>`;
}

/** The rows of a table source, or {error}. */
function rowsOf(source) {
  try {
    const doc = parseExact(source);
    return { rows: Array.isArray(doc?.table?.rows) ? doc.table.rows : [], doc: doc?.table || {} };
  } catch (exc) {
    return { error: exc.message };
  }
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
  return keys.map((k) => ({ key: k, label: label(k), render: (r) => fmt(r?.[k]) }));
}

function Rows({ table }) {
  const [page, setPage] = useState(1);
  const parsed = useMemo(() => rowsOf(table.source), [table.source]);
  if (parsed.error) {
    return html`<${ErrorBox} title="The table source does not parse here"
      error=${{ code: "YAML", message: parsed.error }} />`;
  }
  const { rows, doc } = parsed;
  if (!rows.length) return html`<p class="empty">This table has no rows.</p>`;
  const shown = rows.slice((page - 1) * ROWS_PER_PAGE, page * ROWS_PER_PAGE);
  return html`${doc.description ? html`<p>${doc.description}</p>` : null}
    <${Table} caption=${`Rows of ${table.name} ${table.version}`} columns=${columnsFor(table.kind, rows)}
      rows=${shown} />
    <${Pager} page=${page} perPage=${ROWS_PER_PAGE} total=${rows.length} onPage=${setPage} />`;
}

export function TableDetail({ name }) {
  const state = useApi(() => get(api.table(name)), [name]);
  return html`<${Page} title=${`Table ${name}`} wide>
    <p><a href=${paths.list("tables")}>← All tables</a></p>
    <${Loaded} state=${state}>
      ${(t) => html`
        <dl class="rules-facts">
          <dt>Latest version</dt><dd>${t.version}</dd>
          <dt>Kind</dt><dd>${t.kind}</dd>
          <dt>Content hash</dt><dd><code class="rules-hash">${t.content_hash}</code></dd>
          <dt>Versions</dt><dd>${t.versions.join(", ")}</dd>
        </dl>
        <${ReviewTrail} v=${t} />
        <h2>Rows</h2>
        <${Rows} table=${t} />
        <details class="rules-source">
          <summary>Source of version ${t.version}</summary>
          <${Editor} value=${t.source} readOnly label=${`Table source of ${t.name}`} />
        </details>`}
    <//>
  <//>`;
}
