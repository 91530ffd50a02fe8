// `#/cases`: the queues with their SLA state, then the cases, newest first, filtered by
// the URL's query (`#/cases?queue=kyc-edd&status=open`) so that a view can be shared.
import { useEffect, useState } from "preact/hooks";
import { html } from "../../html.js";
import { get } from "../../api.js";
import { href, navigate, seg } from "../../router.js";
import { me } from "../../session.js";
import { Badge, Empty, ErrorBox, Field, Loaded, Loading, Page, Pager, Table, useApi, when }
  from "../../ui.js";
import { toLocalInput, toRfc3339 } from "../evaluations/filters.js";
import { CASE_FILTERS, STATUSES, caseQuery, slaState } from "./model.js";

const PER_PAGE = 25;

export const caseHref = (id) => href(`/cases/${seg(id)}`);

/** The SLA as text (and a badge tone as a second cue, never the only one). */
export function Sla({ c }) {
  const s = slaState(c);
  const tone = s.state === "breached" ? "bad" : s.state === "closed" ? "muted" : "neutral";
  return html`<span class=${`sla sla-${s.state}`}>
    ${s.state === "breached" ? html`<${Badge} value="SLA breached" tone="bad" /> ` : null}
    <span class=${tone === "muted" ? "muted" : ""}>${s.state === "breached"
      ? s.text.replace("SLA breached: ", "") : s.text}</span>
    ${c.due_at && s.state !== "closed" ? html`<br /><small class="muted">due${" "}
      <time datetime=${c.due_at}>${when(c.due_at)}</time></small>` : null}
  </span>`;
}

function QueueTable({ queues, current }) {
  const columns = [
    { key: "queue", label: "Queue", render: (q) => html`<a href=${href("/cases", { queue: q.queue })}
        aria-current=${current === q.queue ? "true" : undefined}>${q.queue}</a>` },
    { key: "open", label: "Open", className: "num" },
    { key: "in_review", label: "In review", className: "num" },
    { key: "escalated", label: "Escalated", className: "num" },
    { key: "pending_approval", label: "Pending approval", className: "num" },
    { key: "sla_breached", label: "SLA breaches", className: "num", render: (q) => q.sla_breached
      ? html`<${Badge} value=${`${q.sla_breached} breached`} tone="bad" />`
      : html`<span class="muted">none</span>` },
    { key: "oldest_due_at", label: "Oldest due", render: (q) => q.oldest_due_at
      ? html`<time datetime=${q.oldest_due_at}>${when(q.oldest_due_at)}</time>`
      : html`<span class="muted">—</span>` },
  ];
  return html`<${Table} caption="Queues: open work and SLA" columns=${columns} rows=${queues}
    rowKey=${(q) => q.queue} />`;
}

const COLUMNS = [
  { key: "id", label: "Case", render: (c) => html`<a href=${caseHref(c.id)}
      onClick=${(e) => e.stopPropagation()}><code>${c.id}</code></a>` },
  { key: "status", label: "Status", render: (c) => html`<${Badge} value=${c.status} />` },
  { key: "queue", label: "Queue" },
  { key: "priority", label: "Priority", render: (c) => html`<${Badge} value=${c.priority}
      tone=${c.priority === "critical" || c.priority === "high" ? "bad" : "neutral"} />` },
  { key: "entity_id", label: "Entity", render: (c) => c.entity_id
      ? html`<code>${c.entity_id}</code>` : html`<span class="muted">—</span>` },
  { key: "assignee", label: "Assignee", render: (c) => c.assignee || html`<span class="muted">
      ${c.assignee_group ? `group ${c.assignee_group}` : "nobody"}</span>` },
  { key: "sla", label: "SLA", render: (c) => html`<${Sla} c=${c} />` },
  { key: "opened_at", label: "Opened", render: (c) => html`<time datetime=${c.opened_at}>
      ${when(c.opened_at)}</time>` },
];

function Filters({ query, onApply }) {
  const init = () => ({ status: query.status || "", queue: query.queue || "",
    assignee: query.assignee || "", entity_id: query.entity_id || "",
    from: toLocalInput(query.from), to: toLocalInput(query.to) });
  const [f, setF] = useState(init);
  useEffect(() => setF(init()), [CASE_FILTERS.map((k) => query[k] || "").join("\u0000")]);
  const set = (k) => (e) => setF({ ...f, [k]: e.currentTarget.value });
  const submit = (e) => {
    e.preventDefault();
    onApply({ status: f.status, queue: f.queue.trim(), assignee: f.assignee.trim(),
              entity_id: f.entity_id.trim(), from: toRfc3339(f.from), to: toRfc3339(f.to, true) });
  };
  const person = me.get()?.person;
  const any = CASE_FILTERS.some((k) => query[k]);
  return html`<form class="filters case-filters" role="search" aria-label="Filter cases"
      onSubmit=${submit}>
    <${Field} id="cf-status" label="Status">
      <select id="cf-status" value=${f.status} onChange=${set("status")}>
        <option value="">Any</option>
        ${STATUSES.map((s) => html`<option value=${s}>${s.replaceAll("_", " ")}</option>`)}
      </select><//>
    <${Field} id="cf-queue" label="Queue">
      <input id="cf-queue" type="text" value=${f.queue} onInput=${set("queue")} maxlength="128" /><//>
    <${Field} id="cf-assignee" label="Assignee">
      <input id="cf-assignee" type="text" value=${f.assignee} onInput=${set("assignee")}
        maxlength="256" /><//>
    <${Field} id="cf-entity" label="Entity">
      <input id="cf-entity" type="text" value=${f.entity_id} onInput=${set("entity_id")}
        maxlength="256" placeholder="customer id" /><//>
    <${Field} id="cf-from" label="Opened from">
      <input id="cf-from" type="datetime-local" value=${f.from} onInput=${set("from")}
        aria-describedby="cf-utc" /><//>
    <${Field} id="cf-to" label="Opened to">
      <input id="cf-to" type="datetime-local" value=${f.to} onInput=${set("to")}
        aria-describedby="cf-utc" /><//>
    <div class="filter-buttons">
      <button type="submit" class="primary">Apply filters</button>
      ${person ? html`<button type="button" onClick=${() => onApply({ ...query, page: undefined,
        assignee: person })}>Assigned to me</button>` : null}
      ${any ? html`<button type="button" onClick=${() => onApply({})}>Clear filters</button>` : null}
    </div>
    <small id="cf-utc" class="muted">Times are UTC, both ends included.</small>
  </form>`;
}

export function CaseList({ query }) {
  const page = Math.max(1, Number(query.page) || 1);
  const key = JSON.stringify(caseQuery(query, PER_PAGE));
  const cases = useApi(() => get("/api/v1/cases", JSON.parse(key)), [key]);
  const queues = useApi(() => get("/api/v1/queues"), []);
  const filtered = CASE_FILTERS.some((k) => query[k]);
  const apply = (f) => navigate("/cases", { ...f, page: undefined });
  const toPage = (p) => navigate("/cases", { ...query, page: p > 1 ? p : undefined });
  const reload = () => { cases.reload(); queues.reload(); };
  const data = cases.data;
  let body;
  if (cases.error) body = html`<${ErrorBox} error=${cases.error} title="The cases could not be read" />`;
  else if (!data) body = html`<${Loading} what="Loading cases" />`;
  else if (!data.items.length) {
    body = html`<${Empty}>${filtered ? "No case matches these filters."
      : page > 1 ? "No cases on this page." : "No cases yet: they open when evaluations escalate."}<//>`;
  } else {
    body = html`<${Table} caption="Cases" columns=${COLUMNS} rows=${data.items}
      rowKey=${(c) => c.id} onRow=${(c) => navigate(`/cases/${seg(c.id)}`)} />
      ${filtered ? html`<p class="muted small">Filtered: ${CASE_FILTERS.filter((k) => query[k])
        .map((k) => `${k.replace("_id", "")} ${query[k]}`).join(", ")}.</p>` : null}`;
  }
  return html`<${Page} title="Cases" wide
      actions=${html`<button type="button" onClick=${reload}>Reload</button>`}>
    <h2 id="queues-h">Queues</h2>
    <${Loaded} state=${queues} isEmpty=${(d) => !d.items.length}
        empty="No queue holds a case yet.">
      ${(d) => html`<${QueueTable} queues=${d.items} current=${query.queue} />`}
    <//>
    <h2>Case list</h2>
    <${Filters} query=${query} onApply=${apply} />
    ${cases.loading && data ? html`<${Loading} what="Refreshing" />` : null}
    ${body}
    ${data && (data.items.length || page > 1) ? html`<${Pager} page=${page} perPage=${data.per_page}
      total=${data.total} onPage=${toPage} />` : null}
  <//>`;
}
