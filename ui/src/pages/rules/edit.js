// `#/rules/new` and `#/rules/rule/<name>/edit`: write a rule in the browser, validate it
// (POST /api/v1/rules/validate: errors and warnings at their line and column, in the
// editor and in a list) and deploy it (POST /api/v1/rules, with rules:write).
import { useRef, useState } from "preact/hooks";
import { html } from "../../html.js";
import { api as call, get, post } from "../../api.js";
import { can } from "../../session.js";
import { Editor } from "../../editor.js";
import { ErrorBox, Loaded, Page, short, useApi } from "../../ui.js";
import { api, paths } from "./common.js";
import { DiagnosticList, diagnosticsOf } from "./diagnostics.js";

const YAML = "application/x-yaml";

export const TEMPLATE = `rule:
  metadata:
    name: new-rule
    version: 1.0.0
    description: What this rule checks, and why
    jurisdiction: ALL
    domain: AML
  inputs:
    - name: transaction
      type: Transaction
      required: true
  conditions:
    - id: large_amount
      description: The amount is more than 10,000
      expression: transaction.amount > 10000
  actions:
    - trigger: large_amount
      type: flag
      config:
        severity: medium
        category: LARGE_AMOUNT
        message: "Amount of \${transaction.amount}"
`;

/** A 400 with positions becomes diagnostics; any other error is shown as the API states it. */
function split(exc) {
  const positioned = exc.status === 400 && (exc.details || []).some((d) => d.line);
  return positioned ? { diagnostics: diagnosticsOf(exc.details), error: exc } : { diagnostics: [], error: exc };
}

function Outcome({ outcome }) {
  if (!outcome) return null;
  if (outcome.kind === "valid") {
    const r = outcome.result;
    return html`<p class="rules-outcome good" role="status">Valid: <strong>${r.name} ${r.version}</strong>${" "}compiles (bytecode <code title=${r.bytecode_hash}>${short(r.bytecode_hash)}</code>)${
      r.warnings.length ? `, with ${r.warnings.length} warning${r.warnings.length === 1 ? "" : "s"}` : ""}.</p>`;
  }
  if (outcome.kind === "deployed") {
    const { status, view } = outcome;
    const link = html`<a href=${paths.rule(view.name, view.version)}>${view.name} ${view.version}</a>`;
    const text = status === 200
      ? html`Unchanged: ${link} is already deployed with this very content; nothing was stored.`
      : view.status === "pending"
        ? html`Deployed ${link}, pending approval: it decides nothing until a second person
          with <code>rules:approve</code> approves it.`
        : html`Deployed new version ${link}; it is active.`;
    return html`<p class="rules-outcome good" role="status">${text}</p>`;
  }
  return null;
}

function Workbench({ name, initial, base }) {
  const [text, setText] = useState(initial);
  const [diagnostics, setDiagnostics] = useState([]);
  const [outcome, setOutcome] = useState(null);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(null);
  const editor = useRef(null);
  const mayDeploy = can("rules:write");

  const run = async (what) => {
    setBusy(what);
    setError(null);
    setOutcome(null);
    try {
      if (what === "validate") {
        const result = await post("/api/v1/rules/validate", text, { contentType: YAML });
        setDiagnostics(diagnosticsOf(result.warnings));
        setOutcome({ kind: "valid", result });
      } else {
        const res = await call("POST", "/api/v1/rules", { body: text, contentType: YAML, as: "response" });
        const view = await res.json();
        setDiagnostics(diagnosticsOf(view.warnings));
        setOutcome({ kind: "deployed", status: res.status, view });
      }
    } catch (exc) {
      const { diagnostics: found, error: err } = split(exc);
      setDiagnostics(found);
      setError(err);
    } finally {
      setBusy(null);
    }
  };

  const title = what409(error);
  const pick = (l, c) => editor.current?.focusAt(l, c);
  return html`
    ${base ? html`<p class="muted">Starting from ${name} ${base}, the latest version. Give the
      edited rule a new <code>metadata.version</code>: the same version with other content is
      refused (409).</p>` : null}
    <p id="editor-help" class="muted small">A YAML rule file: metadata, inputs, conditions and actions (see the rule language
      reference). Tab moves focus
      out of the editor; errors found by Validate are marked in the gutter and listed below.</p>
    <${Editor} value=${text} onChange=${setText} diagnostics=${diagnostics} label="Rule source"
      editorRef=${editor} describedBy="editor-help" />
    <div class="rules-buttons rules-toolbar">
      <button type="button" disabled=${!!busy || !text.trim()} onClick=${() => run("validate")}>
        ${busy === "validate" ? "Validating…" : "Validate"}</button>
      ${mayDeploy ? html`<button type="button" class="primary" disabled=${!!busy || !text.trim()}
        onClick=${() => run("deploy")}>${busy === "deploy" ? "Deploying…" : "Deploy"}</button>`
        : html`<span class="muted small">Your roles do not include <code>rules:write</code>:
          you can validate, not deploy.</span>`}
      <span aria-live="polite" class="rules-sr-only">${busy ? `${busy === "validate" ? "Validating" : "Deploying"}…` : ""}</span>
    </div>
    <${Outcome} outcome=${outcome} />
    ${error && diagnostics.length
      ? html`<${Problems} error=${error} title=${title} items=${diagnostics} onPick=${pick} />`
      : html`<${ErrorBox} error=${error} title=${title} />
        <${DiagnosticList} items=${diagnostics} title="Warnings" onPick=${pick} />`}`;
}

/** An error with positions: the API's code and message, then each problem at its line
 * and column (a button that moves the editor's cursor there), in one box. */
export function Problems({ error, title, items, onPick }) {
  const other = (error.details || []).filter((d) => !d.line);
  return html`<div class="error-box" role="alert">
    <strong>${title}: </strong><span class="error-code">${error.code}</span>
    <p class="error-message">${error.message}</p>
    <${DiagnosticList} items=${items} onPick=${onPick} bare />
    ${other.length ? html`<ul class="error-details">${other.map((d) => html`<li>
      ${d.path ? html`<code>${d.path}</code> ` : null}${d.code ? html`<span class="error-code">${d.code}</span> ` : null}${d.message}
    </li>`)}</ul>` : null}
    ${error.requestId ? html`<p class="muted small">request ${error.requestId}</p>` : null}
  </div>`;
}

function what409(error) {
  if (!error) return undefined;
  if (error.status === 409) return "Refused: conflict";
  if (error.status === 400) return "The rule does not compile";
  return "The request failed";
}

export function RuleEditor({ name }) {
  const state = useApi(async () => {
    if (!name) return { source: TEMPLATE, version: null };
    const latest = await get(api.rule(name));
    return get(api.ruleVersion(name, latest.version));
  }, [name]);
  const title = name ? `Edit rule ${name}` : "New rule";
  return html`<${Page} title=${title} wide>
    <p><a href=${name ? paths.rule(name) : paths.list()}>← ${name ? `Rule ${name}` : "All rules"}</a></p>
    <${Loaded} state=${state}>
      ${(v) => html`<${Workbench} key=${name || "new"} name=${name} initial=${v.source} base=${v.version} />`}
    <//>
  <//>`;
}
