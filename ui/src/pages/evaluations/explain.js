// The "Explanation" tab: why the decision is what it is, rule by rule.
import { html } from "../../html.js";
import { get } from "../../api.js";
import { href, seg } from "../../router.js";
import { can } from "../../session.js";
import { Badge, JsonView, Loading, short, useApi } from "../../ui.js";
import { explain, ruleShape } from "./model.js";
import { Metadata } from "./metadata.js";

const STATUS_TONE = { fired: "bad", not_fired: "good", skipped: "muted", error: "bad" };
const STATUS_TEXT = { fired: "fired", not_fired: "did not fire", skipped: "skipped", error: "error" };

/** Each rule version's source, parsed: {"rule@version": {shape, bytecode_hash} | {error}}. */
function useRuleShapes(record) {
  const ran = (record.rule_results || []).filter((r) => r.status !== "skipped");
  const key = ran.map((r) => `${r.rule_id}@${r.version}`).join(",");
  return useApi(async () => {
    if (!can("rules:read")) return null;
    const out = {};
    await Promise.all(ran.map(async (r) => {
      const k = `${r.rule_id}@${r.version}`;
      try {
        const v = await get(`/api/v1/rules/${seg(r.rule_id)}/versions/${seg(r.version)}`);
        out[k] = { shape: ruleShape(v.source || ""), bytecode_hash: v.bytecode_hash };
      } catch (exc) {
        out[k] = { error: exc };
      }
    }));
    return out;
  }, [key]);
}

function Value({ v }) {
  if (v !== null && typeof v === "object") return html`<code class="value">${JSON.stringify(v)}</code>`;
  return html`<code class="value">${v === undefined ? "—" : JSON.stringify(v)}</code>`;
}

function Held({ held, value }) {
  if (value !== true && value !== false) return html`<span class="muted">no value</span>`;
  return held ? html`<span class="held-yes"><span aria-hidden="true">✔ </span>held</span>`
    : html`<span class="held-no"><span aria-hidden="true">✘ </span>did not hold</span>`;
}

function Conditions({ rule }) {
  if (!rule.conditions.length) return html`<p class="muted">No condition was evaluated.</p>`;
  return html`<div class="table-wrap"><table>
    <caption class="ev-sr-only">Conditions of ${rule.rule_id}</caption>
    <thead><tr><th scope="col">Condition</th><th scope="col">Expression</th>
      <th scope="col">Value</th><th scope="col">Held</th></tr></thead>
    <tbody>${rule.conditions.map((c) => html`<tr>
      <th scope="row"><code>${c.id}</code>${c.description ? html`<div class="muted small">${c.description}</div>` : null}</th>
      <td>${c.expression !== null ? html`<code class="expr">${c.expression}</code>` : html`<span class="muted">—</span>`}</td>
      <td><${Value} v=${c.value} /></td>
      <td><${Held} held=${c.held} value=${c.value} /></td>
    </tr>`)}</tbody></table></div>`;
}

function Lets({ rule }) {
  if (!rule.lets.length) return null;
  return html`<details class="eval-lets"><summary>Intermediate values (${rule.lets.length}, from the full trace)</summary>
    <dl class="kv">${rule.lets.map((l) => html`<dt><code>${l.name}</code></dt>
      <dd><${Value} v=${l.value} />${l.expression ? html` <span class="muted small">= <code>${l.expression}</code></span>` : null}</dd>`)}
    </dl></details>`;
}

function ActionItem({ a }) {
  if (!a.items.length) return null;
  return html`${a.items.map((it) => html`<${JsonView} value=${it} label=${`What action ${a.index + 1} produced`} />`)}`;
}

function Actions({ rule }) {
  if (!rule.actions.length) return html`<p class="muted">This rule has no action.</p>`;
  return html`<ol class="eval-actions">${rule.actions.map((a) => html`<li class=${a.fired ? "fired" : ""}>
    <strong>${a.type || "action"}</strong>
    ${a.trigger ? html` when <code class="expr">${a.trigger}</code>` : null}
    ${" — "}${a.fired ? html`<${Badge} value="fired" tone="bad" />`
      : a.triggerValue === false ? html`<span class="muted">not fired (trigger false)</span>`
      : html`<span class="muted">not fired${a.triggerValue === null ? " (trigger not reached)" : ""}</span>`}
    <${ActionItem} a=${a} />
  </li>`)}</ol>`;
}

function Plugins({ rule }) {
  const calls = rule.plugin_calls.length ? rule.plugin_calls : rule.plugins;
  if (!calls.length) return null;
  return html`<h4>Plugin calls</h4><${JsonView} value=${calls} label=${`Plugin calls of ${rule.rule_id}`} />`;
}

function RuleCard({ rule, source }) {
  const title = `${rule.rule_id} ${rule.version}`;
  const mismatch = source?.bytecode_hash && rule.hash && source.bytecode_hash !== rule.hash;
  return html`<section class="panel eval-rule" aria-label=${`Rule ${title}`}>
    <h3><a href=${href(`/rules/rule/${seg(rule.rule_id)}${rule.version ? `/${seg(rule.version)}` : ""}`)}>${rule.rule_id}</a>
      <span class="muted"> ${rule.version}</span>
      ${" "}<${Badge} value=${STATUS_TEXT[rule.status] || rule.status} tone=${STATUS_TONE[rule.status]} /></h3>
    ${rule.shape?.description ? html`<p class="muted">${rule.shape.description}
      ${rule.shape.regulation ? html` (${rule.shape.regulation})` : null}</p>` : null}
    ${rule.status === "skipped" ? html`<p>Skipped: ${rule.reason || "no reason recorded"}.</p>` : null}
    ${rule.status === "error" ? html`<div class="error-box" role="note"><strong>The rule failed</strong>${" (the evaluation fails closed): "}<span class="error-code">${rule.error?.code || "ERROR"}</span>
      <p>${rule.error?.message}${rule.error?.line ? ` (line ${rule.error.line}${rule.error.column ? `, column ${rule.error.column}` : ""})` : ""}</p></div>` : null}
    ${source?.error ? html`<p class="muted small">Expression text unavailable: the rule version could not
      be read (${source.error.code}: ${source.error.message}).</p>` : null}
    ${mismatch ? html`<p class="warn-text" role="note">The deployed version's bytecode hash
      (${short(source.bytecode_hash)}) differs from the one this evaluation ran (${short(rule.hash)}).</p>` : null}
    ${rule.status !== "skipped" ? html`<h4>Conditions</h4><${Conditions} rule=${rule} /><${Lets} rule=${rule} />
      <h4>Actions</h4><${Actions} rule=${rule} /><${Plugins} rule=${rule} />` : null}
  </section>`;
}

const SINGULAR = { flags: "flag", escalations: "escalation", blocks: "block",
  notifications: "notification", score_adjustments: "score adjustment", annotations: "annotation" };

/** `1 flag`, `2 flags`. */
function count(n, what) {
  return `${n} ${n === 1 ? SINGULAR[what] : what.replaceAll("_", " ")}`;
}

function Summary({ record }) {
  const r = record.result || {};
  const counts = ["flags", "escalations", "blocks", "notifications", "score_adjustments"]
    .map((k) => [k, (r[k] || []).length]).filter(([, n]) => n);
  const ann = Object.keys(r.annotations || {}).length;
  return html`<div class="panel eval-summary">
    <p>Decision <${Badge} value=${r.decision || "unknown"} />${" under the "}<code>${record.metadata?.strategy || "default"}</code> strategy${r.blocked ? html` — <strong>blocked</strong>` : null}.
      ${counts.length || ann ? ` Raised: ${[...counts.map(([k, n]) => count(n, k)),
        ...(ann ? [count(ann, "annotations")] : [])].join(", ")}.` : " No action fired."}</p>
    <details><summary>Context and input</summary>
      <h4>Context</h4><${JsonView} value=${record.context} label="Context" />
      <h4>Input</h4><${JsonView} value=${record.input} label="Input" /></details>
  </div>`;
}

export function Explanation({ record, fullTrace }) {
  const shapes = useRuleShapes(record);
  const parsed = {};
  for (const [k, v] of Object.entries(shapes.data || {})) parsed[k] = v.shape || null;
  const hashes = Object.fromEntries((record.metadata?.rules || []).map((m) => [`${m.rule_id}@${m.version}`, m.bytecode_hash]));
  const rules = explain(record, parsed, fullTrace);
  return html`<${Summary} record=${record} />
    ${!can("rules:read") ? html`<p class="muted small">Expression text comes from each rule's source,
      which needs <code>rules:read</code>; only condition names and values are shown.</p>` : null}
    ${shapes.loading ? html`<${Loading} what="Reading the rules' sources" />` : null}
    <h2>Rules</h2>
    ${rules.length ? rules.map((r) => html`<${RuleCard} rule=${{ ...r, hash: hashes[`${r.rule_id}@${r.version}`] }}
      source=${shapes.data?.[`${r.rule_id}@${r.version}`]} />`) : html`<p class="muted">No rule applied.</p>`}
    <${Metadata} record=${record} />`;
}

