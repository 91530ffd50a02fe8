// `#/rules/table/<name>/diff?from=&to=`: two versions of a reference table compared, as a
// summary in the table's terms (tableDiff.js: rows added, removed and changed, named by
// the kind's identifying columns; changes to the table's own keys) and as a line diff of
// the sources. What changed says so in text, not only in colour.
import { useState } from "preact/hooks";
import { html } from "../../../html.js";
import { get } from "../../../api.js";
import { navigate, seg } from "../../../router.js";
import { ErrorBox, Field, Loaded, Page, useApi } from "../../../ui.js";
import { tableDiff, valueText } from "../../../tableDiff.js";
import { SourceDiff } from "../diff.js";
import { api, compareVersions, paths } from "../common.js";
import { loadVersion } from "../tables.js";

const CHANGE_TEXT = { added: "Added", removed: "Removed", changed: "Changed" };
const COLUMN_TEXT = { effective_date: "effective date" };

function Change({ change }) {
  return html`<span class=${`rules-change ${change}`}>${CHANGE_TEXT[change]}</span>`;
}

function FromTo({ from, to, change }) {
  if (change === "added") return html`<code class="rules-val">${valueText(to)}</code>`;
  if (change === "removed") return html`<del class="rules-val"><span class="rules-sr-only">was </span>${valueText(from)}</del>`;
  return html`<span class="rules-val"><del><span class="rules-sr-only">from </span>${valueText(from)}</del>
    <span aria-hidden="true"> → </span><ins><span class="rules-sr-only"> to </span>${valueText(to)}</ins></span>`;
}

/** A whole row, as `column: value` pairs. */
function RowText({ row }) {
  return html`<span class="rules-val">${Object.entries(row)
    .map(([k, v]) => `${k}: ${valueText(v)}`).join(", ")}</span>`;
}

function RowList({ label, items, change }) {
  if (!items.length) return null;
  return html`<h3>${label} (${items.length})</h3>
    <ul class="rules-changes">${items.map((it) => html`<li>
      <${Change} change=${change} /> <strong>${it.key}</strong>
      ${it.fields ? html`<ul>${it.fields.map((f) => html`<li><${Change} change=${f.change} />${" "}
        <code>${f.field}</code>: <${FromTo} ...${f} /></li>`)}</ul>`
        : html`: <${RowText} row=${it.row} />`}
    </li>`)}</ul>`;
}

export function TableSummary({ diff }) {
  if (!diff.ok) {
    return html`<${ErrorBox} title="The sources could not be compared" error=${{
      code: "YAML", message: "A version's source does not parse as a table file",
      details: diff.errors.map((e) => ({ ...e, path: `${e.side} version` })) }} />`;
  }
  if (diff.identical) {
    return html`<p class="rules-outcome" role="status">No change in the table's content: the
      versions differ at most in comments, layout and how numbers are written.</p>`;
  }
  const { added, removed, changed, unchanged } = diff.counts;
  const by = diff.keyColumns.map((c) => COLUMN_TEXT[c] || c).join(", ");
  return html`<p>Rows: ${added} added, ${removed} removed, ${changed} changed, ${unchanged} unchanged.
      ${by ? html` <span class="muted">A row is known by its ${by} (the ${diff.kind} kind's
        identifying columns).</span>` : null}</p>
    ${diff.metadata.length ? html`<h3>Table</h3>
      <ul class="rules-changes">${diff.metadata.map((m) => html`<li>
        <${Change} change=${m.change} /> <code>${m.key}</code>: <${FromTo} ...${m} /></li>`)}</ul>` : null}
    <${RowList} label="Rows changed" items=${diff.rows.changed} change="changed" />
    <${RowList} label="Rows added" items=${diff.rows.added} change="added" />
    <${RowList} label="Rows removed" items=${diff.rows.removed} change="removed" />`;
}

function Form({ name, versions, from, to }) {
  const [f, setF] = useState(from);
  const [t, setT] = useState(to);
  const options = (sel) => versions.map((v) => html`<option value=${v} selected=${v === sel}>${v}</option>`);
  return html`<form class="filters" onSubmit=${(e) => { e.preventDefault();
      navigate(`/rules/table/${seg(name)}/diff`, { from: f, to: t }); }}>
    <${Field} id="table-diff-from" label="From version">
      <select id="table-diff-from" value=${f} onChange=${(e) => setF(e.currentTarget.value)}>${options(f)}</select><//>
    <${Field} id="table-diff-to" label="To version">
      <select id="table-diff-to" value=${t} onChange=${(e) => setT(e.currentTarget.value)}>${options(t)}</select><//>
    <div class="field"><button type="submit" class="primary">Compare</button></div>
  </form>`;
}

function Result({ name, from, to, latest }) {
  const state = useApi(() => Promise.all([loadVersion(name, from, latest),
                                          loadVersion(name, to, latest)]), [name, from, to, latest]);
  return html`<${Loaded} state=${state}>
    ${([a, b]) => html`<section aria-labelledby="table-summary-title">
        <h2 id="table-summary-title">What changed from ${from} to ${to}</h2>
        <${TableSummary} diff=${tableDiff(a.source, b.source)} />
      </section>
      <section aria-labelledby="table-source-diff-title">
        <h2 id="table-source-diff-title">Source diff</h2>
        ${a.source === b.source ? html`<p class="rules-outcome">The sources are identical.</p>`
          : html`<${SourceDiff} from=${a.source} to=${b.source} labels=${[from, to]} />`}
      </section>`}
  <//>`;
}

export function TableDiff({ name, query }) {
  const state = useApi(() => get(api.table(name)), [name]);
  return html`<${Page} title=${`Compare versions of table ${name}`} wide>
    <p><a href=${paths.table(name)}>← Table ${name}</a></p>
    <${Loaded} state=${state}>
      ${(latest) => {
        const versions = [...latest.versions].sort(compareVersions);
        const to = versions.includes(query.to) ? query.to : versions[versions.length - 1];
        const from = versions.includes(query.from) ? query.from
          : versions[Math.max(0, versions.indexOf(to) - 1)];
        const bad = [query.from, query.to].filter((v) => v && !versions.includes(v));
        return html`<${Form} key=${`${from}/${to}`} name=${name} versions=${versions} from=${from} to=${to} />
          ${bad.length ? html`<p role="alert">No version ${bad.join(" or ")} of table ${name};
            showing ${from} → ${to} instead.</p>` : null}
          ${versions.length < 2 ? html`<p class="muted">${name} has one version only; deploy
            another to compare.</p>` : null}
          <${Result} name=${name} from=${from} to=${to} latest=${latest} />`;
      }}
    <//>
  <//>`;
}
