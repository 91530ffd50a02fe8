// The "Proof" tab: the record verified IN THIS BROWSER (ui/src/verify), from what the
// server serves (the record, its published keys, the log's inclusion proof, anchors),
// without asking the server whether the record is valid.
import { useState } from "preact/hooks";
import { html } from "./html.js";
import { get } from "./api.js";
import { seg } from "./router.js";
import { can, me } from "./session.js";
import { ErrorBox, Loading, short, useApi, when } from "./ui.js";
import { verifyAll } from "./verify/index.js";

const GROUPS = [
  { id: "record", title: "Record and signature" },
  { id: "log", title: "Transparency log" },
  { id: "anchor", title: "Blockchain anchors" },
];
const MARK = { ok: ["✔", "ok"], failed: ["✘", "FAILED"], not_checked: ["○", "not checked"] };

/** Fetch everything the verifier needs; what could not be fetched is null, with the reason. */
export async function gather(id) {
  const record = await get(`/api/v1/evaluations/${seg(id)}`);
  const notes = {};
  let jwks = null;
  try {
    jwks = await get("/api/v1/keys");
  } catch (exc) {
    notes.record = `The published keys (GET /api/v1/keys) could not be read: ${exc.message}`;
  }
  let inclusion = null;
  if (!can("proofs:read")) {
    notes.log = "Not checked: your roles do not grant proofs:read, which the inclusion proof " +
      "(GET /api/v1/log/inclusion) needs.";
  } else {
    try {
      inclusion = await get("/api/v1/log/inclusion", { evaluation_id: id });
    } catch (exc) {
      notes.log = `The inclusion proof could not be read (${exc.code}): ${exc.message}`;
    }
  }
  const anchors = [];
  for (const a of record.anchors || []) {
    if (!can("log:read") || a.id === undefined) {
      anchors.push(a);
      continue;
    }
    try {
      anchors.push({ ...a, ...(await get(`/api/v1/anchors/${seg(String(a.id))}`)) });
    } catch (exc) {
      anchors.push(a);
      notes.anchor = `Details of anchor ${a.id} could not be read: ${exc.message}`;
    }
  }
  if (!anchors.length && !notes.anchor) notes.anchor = "No confirmed anchor covers this record yet.";
  else if (anchors.length && !can("log:read")) notes.anchor = "Anchor details need log:read.";
  return { record, jwks, inclusion, anchors, notes };
}

/** The verdict as one line: "Proof valid", "Proof INVALID: a, b", "Proof incomplete: ...". */
export function verdictText(report) {
  const failed = report.checks.filter((c) => c.status === "failed").map((c) => c.check);
  const open = report.checks.filter((c) => c.status === "not_checked").map((c) => c.check);
  if (report.verdict === "invalid" || failed.length) {
    return `Proof INVALID: ${failed.length ? failed.join(", ") : "a check failed"}`;
  }
  if (report.verdict === "valid") {
    return open.length ? `Proof valid (not checked: ${open.join(", ")})` : "Proof valid";
  }
  return `Proof incomplete${open.length ? `: not checked: ${open.join(", ")}` : ""}`;
}

async function run(id) {
  const inputs = await gather(id);
  const { record, jwks, inclusion, anchors } = inputs;
  // the id asked for and the tenant signed in to: a record of another evaluation or
  // tenant served in its place fails `evaluation_id` / `tenant`
  const report = await verifyAll({ record, jwks, inclusion, anchors, evaluationId: id,
    tenant: me.get()?.tenant });
  return { ...inputs, report, at: new Date().toISOString() };
}

function Check({ c }) {
  const [icon, word] = MARK[c.status] || ["?", c.status];
  return html`<li class=${`proof-check check-${c.status}`}>
    <span class="proof-icon" aria-hidden="true">${icon}</span>
    <strong class="proof-word">${word}</strong>${" "}<code>${c.check}</code>
    ${c.detail ? html`<span class="proof-detail"> — ${c.detail}</span>` : null}
  </li>`;
}

function Group({ group, checks, note }) {
  return html`<section class="proof-group" aria-labelledby=${`proof-${group.id}`}>
    <h3 id=${`proof-${group.id}`}>${group.title}</h3>
    ${note ? html`<p class="muted small">${note}</p>` : null}
    ${checks.length ? html`<ul class="proof-checks">${checks.map((c) => html`<${Check} c=${c} />`)}</ul>`
      : html`<p class="muted small">No check in this group.</p>`}
  </section>`;
}

function Sources({ d }) {
  const keys = d.jwks?.keys || [];
  const inc = d.inclusion;
  return html`<details class="proof-sources"><summary>What was verified</summary>
    <dl class="kv">
      <dt>Record</dt><dd><code>GET /api/v1/evaluations/${d.record.evaluation_id}</code>, proof
        version ${d.record.trust_proof?.proof_version ?? 1}, signed by <code>${d.record.trust_proof?.key_id}</code></dd>
      <dt>Published keys</dt><dd>${keys.length ? keys.map((k) => html`<code>${k.kid}</code> `) : "none read"}</dd>
      <dt>Inclusion proof</dt><dd>${inc ? html`leaf ${inc.leaf_index} of a tree of ${inc.tree_size},
        root <code>${short(inc.sth?.root_hash, 16)}</code>, head signed ${when(inc.sth?.timestamp)}` : "none"}</dd>
      <dt>Anchors</dt><dd>${d.anchors.length ? html`<ul class="plain">${d.anchors.map((a) => html`<li>
        <strong>${a.chain}</strong> #${a.id}: ${a.status}, tree size ${a.tree_size},
        tx <code>${short(a.tx_hash, 16)}</code>, block ${a.block_number ?? "—"},
        ${a.confirmations ?? 0} confirmations</li>`)}</ul>` : "none"}</dd>
    </dl></details>`;
}

export function ProofPanel({ evaluationId }) {
  const [n, setN] = useState(0);
  const state = useApi(() => run(evaluationId), [evaluationId, n]);
  const d = state.data;
  const again = html`<button type="button" onClick=${() => setN(n + 1)} disabled=${state.loading}>
    Verify again</button>`;
  // The button sits under the verdict, above the long list of checks: pressing it leaves
  // the new verdict in view.
  const buttons = html`<div class="row proof-again">${again}${state.loading && d
    ? html`<${Loading} what="Verifying again" />` : null}</div>`;
  let body;
  if (state.error) {
    body = html`<h2 class="proof-verdict verdict-incomplete">Proof incomplete: the verification could not run</h2>
      <${ErrorBox} error=${state.error} title="Verification could not run" />${buttons}`;
  } else if (!d) {
    body = html`<${Loading} what="Verifying in the browser" />${buttons}`;
  } else {
    const r = d.report;
    const text = verdictText(r);
    const tone = text.startsWith("Proof INVALID") ? "invalid" : r.verdict === "valid" ? "valid" : "incomplete";
    // keyed by tone: a verdict turning INVALID is a new alert element, announced as such
    body = html`<div key=${tone} role=${tone === "invalid" ? "alert" : "status"}
        class=${`proof-verdict-box verdict-${tone}`}>
        <h2 class="proof-verdict">${text}</h2>
        <p class="small">Checked in this browser at ${when(d.at)}, without the server's verify endpoint.</p>
      </div>
      ${buttons}
      ${GROUPS.map((g) => html`<${Group} group=${g} note=${d.notes[g.id]}
        checks=${r.checks.filter((c) => c.group === g.id)} />`)}
      <${Sources} d=${d} />`;
  }
  return html`<section class="proof-panel" role="region" aria-label="Proof verification"
      aria-busy=${state.loading ? "true" : "false"}>
    ${body}
  </section>`;
}
