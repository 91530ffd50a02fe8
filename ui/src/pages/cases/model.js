// What the case screens need to know about cases, without rendering: the state machine
// (which actions a status allows, which permission each needs, docs/cases.md), SLA text,
// and the list's URL filters. Pure functions, unit-tested.

export const STATUSES = ["open", "in_review", "escalated", "pending_approval", "closed"];
export const PRIORITIES = ["low", "medium", "high", "critical"];
// `cases.dispositions` by default; a deployment may configure others (the API says so).
export const DISPOSITIONS = ["false_positive", "true_positive", "sar_filed", "no_action"];
export const REPORTABLE = ["true_positive", "sar_filed"];

const WORKING = ["open", "in_review", "escalated"];

/** Each action: the permission it needs and the statuses it is allowed in. */
export const ACTIONS = {
  assign: { needs: "cases:work", in: WORKING },
  claim: { needs: "cases:work", in: WORKING },
  release: { needs: "cases:work", in: WORKING, assigned: true },
  comment: { needs: "cases:work", in: STATUSES },
  escalate: { needs: "cases:work", in: WORKING },
  close: { needs: "cases:close", in: WORKING },
  approve: { needs: "cases:close", in: ["pending_approval"] },
  reject: { needs: "cases:close", in: ["pending_approval"] },
  reopen: { needs: "cases:close", in: ["closed"] },
};

/** The actions this caller may take on `c` now (`can(permission)`), in display order. */
export function availableActions(c, can) {
  return Object.entries(ACTIONS)
    .filter(([, a]) => a.in.includes(c.status) && (!a.assigned || c.assignee) && can(a.needs))
    .map(([name]) => name);
}

/** "2 d 3 h", "45 min", "< 1 min" for a span in milliseconds (its absolute value). */
export function span(ms) {
  const m = Math.floor(Math.abs(ms) / 60000);
  if (m < 1) return "< 1 min";
  const d = Math.floor(m / 1440);
  const h = Math.floor((m % 1440) / 60);
  const min = m % 60;
  if (d) return h ? `${d} d ${h} h` : `${d} d`;
  if (h) return min ? `${h} h ${min} min` : `${h} h`;
  return `${min} min`;
}

/** The SLA state of a case as words: {state: closed|breached|due|none, text}. The API's
 * `sla_breached` is authoritative; the clock only words how far off the due time is. */
export function slaState(c, now = Date.now()) {
  if (c.status === "closed") return { state: "closed", text: "Closed" };
  if (!c.due_at) return { state: "none", text: "No due time" };
  const due = Date.parse(c.due_at);
  if (Number.isNaN(due)) return { state: "due", text: `Due ${c.due_at}` };
  const delta = due - now;
  if (c.sla_breached || delta < 0) {
    return { state: "breached", text: `SLA breached: overdue by ${span(delta)}` };
  }
  return { state: "due", text: `Due in ${span(delta)}` };
}

export const CASE_FILTERS = ["status", "queue", "assignee", "entity_id", "from", "to"];

/** The API query of the list for a route query: known filters only, non-empty. */
export function caseQuery(query, perPage) {
  const q = { page: Math.max(1, Number(query.page) || 1), per_page: perPage };
  for (const k of CASE_FILTERS) if (query[k]) q[k] = query[k];
  return q;
}

/** The body of an action: `fields` trimmed, empty optional ones left out, with the
 * version the form was filled in on (so that a case changed meanwhile is refused). */
export function actionBody(action, fields, version) {
  const body = { action };
  for (const [k, v] of Object.entries(fields || {})) {
    const t = typeof v === "string" ? v.trim() : v;
    if (t !== "" && t !== undefined && t !== null) body[k] = t;
  }
  if (Number.isInteger(version)) body.expected_version = version;
  return body;
}

/** "requested_by" → "Requested by". */
export const human = (k) => (k.charAt(0).toUpperCase() + k.slice(1)).replaceAll("_", " ");

/** A case event's details as [label, value] pairs worth showing, per action. */
export function eventSummary(ev) {
  const d = ev.details || {};
  const pairs = [];
  const add = (label, v) => {
    if (v !== undefined && v !== null && v !== "" && !(Array.isArray(v) && !v.length)) {
      pairs.push([label, Array.isArray(v) ? v.join(", ") : String(v)]);
    }
  };
  switch (ev.action) {
    case "opened":
      add("Queue", d.queue); add("Priority", d.priority); add("Due", d.due_at);
      add("Entity", d.entity_id); add("Group", d.assignee_group);
      add("Triggers", d.triggers); add("Evaluations", d.evaluation_ids); add("Reason", d.reason);
      break;
    case "evaluation_added":
      add("Evaluations", d.evaluation_ids || d.evaluation_id); add("Priority", d.priority);
      add("Due", d.due_at);
      break;
    case "comment":
      add("Text", d.text);
      break;
    case "attachment_added":
      add("File", d.name); add("Type", d.media_type); add("Bytes", d.bytes); add("SHA-256", d.sha256);
      break;
    default: {
      const labels = { assignee: "Assignee", assignee_group: "Group", reason: "Reason",
        queue: "Queue", priority: "Priority", disposition: "Disposition", note: "Note",
        status: "Status" };
      for (const [k, v] of Object.entries(d)) {
        if (typeof v !== "object" || v === null || Array.isArray(v)) add(labels[k] || human(k), v);
      }
    }
  }
  return pairs;
}

/** The notes of a case's history (comments; the notes and reasons of decisions). */
export function notesOf(events) {
  const out = [];
  for (const ev of events || []) {
    const d = ev.details || {};
    const text = ev.action === "comment" ? d.text : d.note || d.reason;
    if (text && ["comment", "escalate", "close", "close_requested", "approve", "reject",
      "reopen"].includes(ev.action)) {
      out.push({ id: ev.id, at: ev.at, actor: ev.actor, action: ev.action, text });
    }
  }
  return out;
}

/** Bytes as "1.2 MiB". */
export function bytes(n) {
  if (typeof n !== "number") return "—";
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}
