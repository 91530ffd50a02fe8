// `#/rules/table-new` and `#/rules/table/<name>/edit`: write a reference table in the
// browser and deploy it (POST /api/v1/tables, with rules:write). There is no separate
// check for tables: Deploy is the check, and its errors (400 with positions) are shown
// at their line and column, in the editor's gutter and in a list, as for rules.
import { useRef, useState } from "preact/hooks";
import { html } from "../../../html.js";
import { api as call, get } from "../../../api.js";
import { can } from "../../../session.js";
import { Editor } from "../../../editor.js";
import { ErrorBox, Loaded, Page, useApi } from "../../../ui.js";
import { api, paths } from "../common.js";
import { diagnosticsOf } from "../diagnostics.js";
import { Problems } from "../edit.js";

const YAML = "application/x-yaml";

export const TABLE_TEMPLATE = `table:
  name: new-table
  version: 1.0.0
  kind: threshold            # threshold | fx_rate | list
  description: What these values are, and where they come from
  rows:
    - { jurisdiction: ALL, type: default, value: 10000, effective_date: 2026-01-01 }
`;

function titleOf(error) {
  if (!error) return undefined;
  if (error.status === 409) return "Refused: conflict";
  if (error.status === 400) return "The table has errors";
  return "The request failed";
}

function Outcome({ outcome, base }) {
  if (!outcome) return null;
  const { status, view } = outcome;
  const link = html`<a href=${paths.table(view.name, view.version)}>${view.name} ${view.version}</a>`;
  const text = status === 200
    ? html`Unchanged: ${link} is already deployed with this very content; nothing was stored.`
    : view.status === "pending"
      ? html`Deployed ${link}, pending approval: rules keep reading the previous active
        version until a second person with <code>rules:approve</code> approves it.`
      : html`Deployed new version ${link}; it is active.`;
  const compare = base && status !== 200 && base !== view.version
    ? html` <a href=${paths.tableDiff(view.name, base, view.version)}>Compare ${base} with ${view.version}</a>.`
    : null;
  return html`<p class="rules-outcome good" role="status">${text}${compare}</p>`;
}

function Workbench({ name, initial, base }) {
  const [text, setText] = useState(initial);
  const [diagnostics, setDiagnostics] = useState([]);
  const [outcome, setOutcome] = useState(null);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const editor = useRef(null);

  const deploy = async () => {
    setBusy(true);
    setError(null);
    setOutcome(null);
    try {
      const res = await call("POST", "/api/v1/tables", { body: text, contentType: YAML, as: "response" });
      setDiagnostics([]);
      setOutcome({ status: res.status, view: await res.json() });
    } catch (exc) {
      const positioned = exc.status === 400 && (exc.details || []).some((d) => d.line);
      setDiagnostics(positioned ? diagnosticsOf(exc.details) : []);
      setError(exc);
    } finally {
      setBusy(false);
    }
  };

  const pick = (l, c) => editor.current?.focusAt(l, c);
  return html`
    ${base ? html`<p class="muted">Starting from ${name} ${base}, the latest version. Give the
      new version another <code>version</code>: the same version with other content is
      refused (409).</p>` : null}
    <p id="table-editor-help" class="muted small">A YAML table file: <code>name</code>, <code>version</code>, <code>kind</code> (threshold, fx_rate or list), <code>description</code> and <code>rows</code>
      (see the reference tables documentation). Tables have no separate check: Deploy checks the file, and stores nothing when it has
      errors; they are marked in the gutter and listed below with their line and column.
      Tab moves focus out of the editor.</p>
    <${Editor} value=${text} onChange=${setText} diagnostics=${diagnostics} label="Table source"
      editorRef=${editor} describedBy="table-editor-help" />
    <div class="rules-buttons rules-toolbar">
      <button type="button" class="primary" disabled=${busy || !text.trim()}
        onClick=${deploy}>${busy ? "Deploying…" : "Deploy"}</button>
      <span aria-live="polite" class="rules-sr-only">${busy ? "Deploying…" : ""}</span>
    </div>
    <${Outcome} outcome=${outcome} base=${base} />
    ${error && diagnostics.length
      ? html`<${Problems} error=${error} title=${titleOf(error)} items=${diagnostics} onPick=${pick} />`
      : html`<${ErrorBox} error=${error} title=${titleOf(error)} />`}`;
}

export function TableEditor({ name }) {
  const allowed = can("rules:write");
  const state = useApi(async () => {
    if (!allowed) return null;
    if (!name) return { source: TABLE_TEMPLATE, version: null };
    return get(api.table(name));
  }, [name, allowed]);
  const title = name ? `New version of table ${name}` : "New table";
  const back = html`<p><a href=${name ? paths.table(name) : paths.list("tables")}>← ${
    name ? `Table ${name}` : "All tables"}</a></p>`;
  if (!allowed) {
    return html`<${Page} title=${title} wide>${back}
      <p role="alert">Your roles do not include <code>rules:write</code>, so you cannot deploy
        reference tables here; ask a person whose roles include it.</p>
    <//>`;
  }
  return html`<${Page} title=${title} wide>${back}
    <${Loaded} state=${state}>
      ${(t) => html`<${Workbench} key=${name || "new"} name=${name} initial=${t.source} base=${t.version} />`}
    <//>
  <//>`;
}
