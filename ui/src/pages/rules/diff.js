// `#/rules/rule/<name>/diff?from=&to=`: two versions of a rule compared, as a summary in
// the rule language's terms (ruleDiff.js) and as a line diff of the sources. Added and
// removed lines say so in text, not only in colour.
import { useState } from "preact/hooks";
import { html } from "../../html.js";
import { get } from "../../api.js";
import { navigate, seg } from "../../router.js";
import { ErrorBox, Field, Loaded, Page, useApi } from "../../ui.js";
import { foldRows, lineRows, ruleDiff, SECTIONS } from "../../ruleDiff.js";
import { api, compareVersions, paths } from "./common.js";

const CHANGE_TEXT = { added: "Added", removed: "Removed", changed: "Changed" };

function show(v) {
  if (v === undefined) return "—";
  if (typeof v === "string") return v;
  return JSON.stringify(v);
}

function Change({ change }) {
  return html`<span class=${`rules-change ${change}`}>${CHANGE_TEXT[change]}</span>`;
}

function FromTo({ from, to, change }) {
  if (change === "added") return html`<code class="rules-val">${show(to)}</code>`;
  if (change === "removed") return html`<del class="rules-val"><span class="rules-sr-only">was </span>${show(from)}</del>`;
  return html`<span class="rules-val"><del><span class="rules-sr-only">from </span>${show(from)}</del>
    <span aria-hidden="true"> → </span><ins><span class="rules-sr-only"> to </span>${show(to)}</ins></span>`;
}

function ItemList({ items }) {
  return html`<ul class="rules-changes">${items.map((it) => html`<li>
    <${Change} change=${it.change} /> <strong>${it.key}</strong>
    ${it.fields ? html`<ul>${it.fields.map((f) => html`<li><${Change} change=${f.change} />${" "}
      <code>${f.field}</code>: <${FromTo} ...${f} /></li>`)}</ul>` : null}
  </li>`)}</ul>`;
}

export function Summary({ diff }) {
  if (!diff.ok) {
    return html`<${ErrorBox} title="The sources could not be compared" error=${{
      code: "YAML", message: "A version's source does not parse as a rule file",
      details: diff.errors.map((e) => ({ ...e, path: `${e.side} version`, message: e.message })) }} />`;
  }
  if (diff.identical) {
    return html`<p class="rules-outcome" role="status">No change in what the rule means: the
      versions differ at most in comments and layout.</p>`;
  }
  const { added, removed, changed } = diff.counts;
  const groups = [...SECTIONS.map((s) => [s.label, diff.sections[s.id]]),
                  ["Other keys", diff.sections.other]].filter(([, items]) => items.length);
  return html`<p>${added} added, ${removed} removed, ${changed} changed.</p>
    ${diff.metadata.length ? html`<h3>Metadata</h3>
      <ul class="rules-changes">${diff.metadata.map((m) => html`<li>
        <${Change} change=${m.change} /> <code>${m.key}</code>: <${FromTo} ...${m} /></li>`)}</ul>` : null}
    ${groups.map(([label, items]) => html`<h3>${label}</h3><${ItemList} items=${items} />`)}`;
}

export function SourceDiff({ from, to, labels }) {
  const [all, setAll] = useState(false);
  const rows = lineRows(from, to);
  const shown = all ? rows : foldRows(rows, 3);
  const sign = { added: "+", removed: "−", same: " " };
  return html`<div class="rules-buttons">
      <label><input type="checkbox" checked=${all} onChange=${(e) => setAll(e.currentTarget.checked)} />${" "}
        Show unchanged lines</label></div>
    <div class="table-wrap"><table class="rules-linediff">
      <caption>Source lines, ${labels[0]} → ${labels[1]}</caption>
      <thead><tr><th scope="col" class="num">${labels[0]}</th><th scope="col" class="num">${labels[1]}</th>
        <th scope="col">Change</th><th scope="col">Line</th></tr></thead>
      <tbody>${shown.map((r, i) => r.kind === "fold"
        ? html`<tr key=${i} class="fold"><td colspan="4" class="muted">${r.count} unchanged lines</td></tr>`
        : html`<tr key=${i} class=${r.kind}>
          <td class="num">${r.oldNo ?? ""}</td><td class="num">${r.newNo ?? ""}</td>
          <td><span aria-hidden="true">${sign[r.kind]}</span><span class="rules-sr-only">${
            r.kind === "same" ? "unchanged" : r.kind}</span></td>
          <td><code>${r.text}</code></td></tr>`)}</tbody>
    </table></div>`;
}

function Form({ name, versions, from, to }) {
  const [f, setF] = useState(from);
  const [t, setT] = useState(to);
  const options = (sel) => versions.map((v) => html`<option value=${v} selected=${v === sel}>${v}</option>`);
  return html`<form class="filters" onSubmit=${(e) => { e.preventDefault();
      navigate(`/rules/rule/${seg(name)}/diff`, { from: f, to: t }); }}>
    <${Field} id="diff-from" label="From version">
      <select id="diff-from" value=${f} onChange=${(e) => setF(e.currentTarget.value)}>${options(f)}</select><//>
    <${Field} id="diff-to" label="To version">
      <select id="diff-to" value=${t} onChange=${(e) => setT(e.currentTarget.value)}>${options(t)}</select><//>
    <div class="field"><button type="submit" class="primary">Compare</button></div>
  </form>`;
}

function Result({ name, from, to }) {
  const state = useApi(() => Promise.all([get(api.ruleVersion(name, from)),
                                          get(api.ruleVersion(name, to))]), [name, from, to]);
  return html`<${Loaded} state=${state}>
    ${([a, b]) => html`<section aria-labelledby="summary-title">
        <h2 id="summary-title">What changed from ${from} to ${to}</h2>
        <${Summary} diff=${ruleDiff(a.source, b.source)} />
      </section>
      <section aria-labelledby="source-diff-title">
        <h2 id="source-diff-title">Source diff</h2>
        ${a.source === b.source ? html`<p class="rules-outcome">The sources are identical.</p>`
          : html`<${SourceDiff} from=${a.source} to=${b.source} labels=${[from, to]} />`}
      </section>`}
  <//>`;
}

export function RuleDiff({ name, query }) {
  const state = useApi(() => get(api.ruleVersions(name)), [name]);
  return html`<${Page} title=${`Compare versions of ${name}`} wide>
    <p><a href=${paths.rule(name)}>← Rule ${name}</a></p>
    <${Loaded} state=${state} isEmpty=${(d) => d.items.length === 0}
        empty=${`No version of ${name} is deployed.`}>
      ${(d) => {
        const versions = d.items.map((v) => v.version).sort(compareVersions);
        const to = versions.includes(query.to) ? query.to : versions[versions.length - 1];
        const from = versions.includes(query.from) ? query.from
          : versions[Math.max(0, versions.indexOf(to) - 1)];
        const bad = [query.from, query.to].filter((v) => v && !versions.includes(v));
        return html`<${Form} key=${`${from}/${to}`} name=${name} versions=${versions} from=${from} to=${to} />
          ${bad.length ? html`<p role="alert">No version ${bad.join(" or ")} of ${name}; showing
            ${from} → ${to} instead.</p>` : null}
          ${versions.length < 2 ? html`<p class="muted">${name} has one version only; deploy
            another to compare.</p>` : null}
          <${Result} name=${name} from=${from} to=${to} />`;
      }}
    <//>
  <//>`;
}
