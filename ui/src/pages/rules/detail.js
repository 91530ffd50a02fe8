// `#/rules/rule/<name>[/<version>]`: a rule's versions and one version (the latest by
// default) with its source (read-only editor), disassembly, bytecode hash and review trail.
import { html } from "../../html.js";
import { get } from "../../api.js";
import { can } from "../../session.js";
import { Editor } from "../../editor.js";
import { Loaded, Page, Table, fmt, short, useApi, when } from "../../ui.js";
import { ReviewTrail, StatusBadge, api, paths } from "./common.js";
import { VersionReview } from "./approvals.js";

function Versions({ name, items, current }) {
  const columns = [
    { key: "version", label: "Version", render: (v) => html`<a href=${paths.rule(name, v.version)}
        aria-current=${v.version === current ? "page" : undefined}>${v.version}</a>
        ${v.version === current ? html` <span class="muted small">(shown)</span>` : null}` },
    { key: "status", label: "Status", render: (v) => html`<${StatusBadge} version=${v} />` },
    { key: "effective_date", label: "Effective" },
    { key: "expiry_date", label: "Expires" },
    { key: "bytecode_hash", label: "Bytecode hash",
      render: (v) => html`<code title=${v.bytecode_hash}>${short(v.bytecode_hash)}</code>` },
    { key: "deployed_by", label: "Deployed by" },
    { key: "created_at", label: "Deployed at", render: (v) => when(v.created_at) },
    { key: "reviewed_by", label: "Reviewed by" },
  ];
  // Newest first: the version people look for.
  return html`<${Table} caption=${`Versions of ${name}`} columns=${columns}
    rows=${[...items].reverse()} rowKey=${(v) => v.version} />`;
}

function Version({ name, version, onReviewed }) {
  const state = useApi(() => get(api.ruleVersion(name, version)), [name, version]);
  return html`<${Loaded} state=${state}>
    ${(v) => html`<section aria-labelledby="rule-version-title">
      <h2 id="rule-version-title">Version ${v.version}</h2>
      <div class="rules-two">
        <dl class="rules-facts">
          <dt>Jurisdiction</dt><dd>${fmt(v.jurisdiction)}</dd>
          <dt>Domain</dt><dd>${fmt(v.domain)}</dd>
          <dt>Effective from</dt><dd>${fmt(v.effective_date)}</dd>
          <dt>Expires (exclusive)</dt><dd>${fmt(v.expiry_date)}</dd>
          <dt>Bytecode hash</dt><dd><code class="rules-hash">${v.bytecode_hash}</code></dd>
          <dt>Source format</dt><dd>${v.source_format}</dd>
        </dl>
        <${ReviewTrail} v=${v} />
      </div>
      ${v.status === "pending" && can("rules:approve") ? html`<${VersionReview} kind="rule"
        name=${v.name} version=${v.version} onDone=${() => { state.reload(); onReviewed(); }} />`
        : null}
      <h3>Source</h3>
      <${Editor} value=${v.source} readOnly label="Rule source" />
      <h3 id="disassembly-title">Disassembly</h3>
      <pre class="code rules-disassembly" tabindex="0" aria-labelledby="disassembly-title">${v.disassembly}</pre>
    </section>`}
  <//>`;
}

export function RuleDetail({ name, version }) {
  const state = useApi(() => get(api.ruleVersions(name)), [name]);
  const items = state.data?.items || [];
  const latest = items.length ? items[items.length - 1].version : null;
  const shown = version || latest;
  const actions = html`
    ${items.length > 1 ? html`<a class="button" href=${paths.diff(name,
      items[items.length - 2].version, latest)}>Compare versions</a>` : null}
    ${can("rules:write") && latest ? html`<a class="button" href=${paths.edit(name)}>Edit</a>` : null}`;
  return html`<${Page} title=${`Rule ${name}`} actions=${actions} wide>
    <p><a href=${paths.list()}>← All rules</a></p>
    <${Loaded} state=${state} isEmpty=${(d) => d.items.length === 0}
        empty=${`No version of ${name} is deployed.`}>
      ${(d) => html`
        <${Versions} name=${name} items=${d.items} current=${shown} />
        <${Version} key=${shown} name=${name} version=${shown} onReviewed=${state.reload} />`}
    <//>
  <//>`;
}
