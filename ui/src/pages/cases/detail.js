// `#/cases/<id>`: one case: its summary and SLA, the actions open to the caller, the
// evaluations that raised it, notes, attachments, its history with the chain check, and
// the signed export bundle (and report drafts of a reportable closed case).
import { useState } from "preact/hooks";
import { html } from "../../html.js";
import { get } from "../../api.js";
import { href, seg } from "../../router.js";
import { Badge, ErrorBox, Loading, Page, Table, fmt, short, useApi, when } from "../../ui.js";
import { CaseActions } from "./actions.js";
import { Attachments } from "./attachments.js";
import { DownloadButton } from "./download.js";
import { ChainCheck, History, Notes } from "./history.js";
import { Sla } from "./list.js";
import { REPORTABLE } from "./model.js";

const evalHref = (id) => href(`/evaluations/${seg(id)}`);

function Summary({ c }) {
  const rows = [
    ["Status", html`<${Badge} value=${c.status} />`],
    ["Queue", html`<a href=${href("/cases", { queue: c.queue })}>${c.queue}</a>`],
    ["Priority", c.priority],
    ["Assignee", c.assignee || html`<span class="muted">nobody</span>`],
    ["Assignee group", fmt(c.assignee_group)],
    ["SLA", html`<${Sla} c=${c} />`],
    ["Decision", c.disposition ? html`<${Badge} value=${c.disposition}
      tone=${REPORTABLE.includes(c.disposition) ? "bad" : "neutral"} />`
      : html`<span class="muted">${c.pending_close ? `pending: ${c.pending_close.disposition}` : "none yet"}</span>`],
    ["Entity", c.entity_id ? html`<code>${c.entity_id}</code>` : fmt(null)],
    ["Opened", html`<time datetime=${c.opened_at}>${when(c.opened_at)}</time> by ${c.opened_by || "—"}`],
    ...(c.reason ? [["Opening reason", c.reason]] : []),
    ["Updated", html`<time datetime=${c.updated_at}>${when(c.updated_at)}</time>`],
    ["Closed", c.closed_at ? html`<time datetime=${c.closed_at}>${when(c.closed_at)}</time>` : fmt(null)],
    ["Version", html`${c.version} ${c.version === 1 ? "event" : "events"} · head <code title=${c.head_hash}>${short(c.head_hash, 16)}</code>`],
  ];
  return html`<dl class="case-summary panel" aria-label="Case summary">
    ${rows.map(([k, v]) => html`<div><dt>${k}</dt><dd>${v}</dd></div>`)}
  </dl>`;
}

function Evaluations({ c }) {
  const trig = Object.fromEntries((c.triggers || []).map((t) => [t.evaluation_id, t.triggers]));
  const esc = c.escalations || [];
  return html`<ul class="case-evals">
      ${c.evaluation_ids.map((id) => html`<li key=${id}><a href=${evalHref(id)}><code>${id}</code></a>
        ${trig[id]?.length ? html` <span class="muted small">triggered by ${trig[id].join(", ")}</span>` : null}</li>`)}
    </ul>
    ${c.rule_versions?.length ? html`<p class="small">Rules evaluated:
      ${c.rule_versions.map((r) => html` <code>${r}</code>`)}</p>` : null}
    ${esc.length ? html`<${Table} caption="Escalations" rows=${esc}
      rowKey=${(e, i) => `${e.evaluation_id}-${e.rule_id}-${i}`} columns=${[
        { key: "rule", label: "Rule", render: (e) => html`<code>${e.rule_id}@${e.rule_version}</code>` },
        { key: "condition_id", label: "Condition" },
        { key: "queue", label: "Queue" },
        { key: "priority", label: "Priority" },
        { key: "notes", label: "Notes" },
        { key: "evaluation_id", label: "Evaluation", render: (e) => html`<a
          href=${evalHref(e.evaluation_id)}><code>${short(e.evaluation_id, 10)}</code></a>` },
      ]} />` : null}`;
}

function Export({ c }) {
  const base = `/api/v1/cases/${seg(c.id)}`;
  const reportable = c.status === "closed" && REPORTABLE.includes(c.disposition);
  return html`<p class="muted small" id="case-bundle-hint">The signed bundle holds the case, its
      chain and every linked evaluation with its inclusion proof; check it offline
      with${" "}<code>arka-cli verify BUNDLE.json</code>.</p>
    <div class="row">
      <${DownloadButton} path=${`${base}/export`} name=${`${c.id}.bundle.json`}
        label="Download signed bundle" describedBy="case-bundle-hint" />
      ${reportable ? html`
        <${DownloadButton} path=${`${base}/sar`} name=${`${c.id}.sar.json`}
          label="Download report draft (JSON)" />
        <${DownloadButton} path=${`${base}/sar`} query=${{ format: "goaml" }}
          name=${`${c.id}.goaml.xml`} label="Download report draft (goAML XML)" />` : null}
    </div>`;
}

export function CaseDetail({ id }) {
  const [tick, setTick] = useState(0);
  const [message, setMessage] = useState("");
  const state = useApi(() => get(`/api/v1/cases/${seg(id)}`), [id, tick]);
  const events = useApi(() => get(`/api/v1/cases/${seg(id)}/events`), [id, tick]);
  const chain = useApi(() => get(`/api/v1/cases/${seg(id)}/verify`), [id, tick]);
  const c = state.data;
  const back = html`<p class="muted"><a href="#/cases">← Cases</a></p>`;
  const title = `Case ${id}`;
  if (state.error) {
    return html`<${Page} title=${title}>${back}<${ErrorBox} error=${state.error}
      title="The case could not be read" /><//>`;
  }
  if (!c) return html`<${Page} title=${title}>${back}<${Loading} what="Loading the case" /><//>`;
  const done = (_updated, msg) => { setMessage(msg); setTick((t) => t + 1); };
  const reload = () => { setMessage(""); setTick((t) => t + 1); };
  return html`<${Page} title=${title} wide
      actions=${html`<button type="button" onClick=${reload}>Reload</button>`}>
    ${back}
    <p class="case-status-msg" role="status" aria-live="polite">${message}</p>
    <${Summary} c=${c} />
    <section aria-labelledby="case-actions-h">
      <h2 id="case-actions-h">Actions</h2>
      <${CaseActions} key=${c.version} c=${c} onDone=${done} />
    </section>
    <section aria-labelledby="case-evals-h">
      <h2 id="case-evals-h">Evaluations</h2>
      <${Evaluations} c=${c} />
    </section>
    <section aria-labelledby="case-notes-h">
      <h2 id="case-notes-h">Notes</h2>
      <${Notes} events=${events} />
    </section>
    <section aria-labelledby="case-att-h">
      <h2 id="case-att-h">Attachments</h2>
      <${Attachments} c=${c} onDone=${done} />
    </section>
    <section aria-labelledby="case-history-h">
      <h2 id="case-history-h">History</h2>
      <h3>Chain check</h3>
      <${ChainCheck} state=${chain} onCheck=${chain.reload} />
      <h3>Events, oldest first</h3>
      <${History} events=${events} />
    </section>
    <section aria-labelledby="case-export-h">
      <h2 id="case-export-h">Export</h2>
      <${Export} c=${c} />
    </section>
  <//>`;
}
