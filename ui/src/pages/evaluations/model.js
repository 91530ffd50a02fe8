// The explanation of a record as plain data (no UI): per rule, its conditions with their
// expression text (from the rule's source at that version) and values (basic trace; the
// intermediate `let` values from the full trace when there is one), the actions that fired
// with the result items they produced, and why a rule was skipped or failed.
import { parse as parseYaml } from "yaml";

// Which result bucket each action type writes (src/arka/rules/actions.py).
export const BUCKET = {
  flag: "flags", escalate: "escalations", block: "blocks", notify: "notifications",
  score_adjustment: "score_adjustments", annotate: "annotations",
};

/** A rule version's source (YAML or JSON) as {conditions: {id: {expression, description}},
 * actions: [{type, trigger, config}], lets: {name: text}}, or null when it does not parse. */
export function ruleShape(source) {
  let doc;
  try {
    doc = parseYaml(source);
  } catch {
    return null;
  }
  const rule = doc?.rule || doc;
  if (!rule || typeof rule !== "object") return null;
  const conditions = {};
  for (const c of rule.conditions || []) {
    if (c && c.id) conditions[c.id] = { expression: exprText(c.expression), description: c.description || "" };
  }
  const actions = (rule.actions || []).map((a) => ({ type: a?.type, trigger: exprText(a?.trigger),
                                                     config: a?.config || {} }));
  const lets = {};
  for (const [k, v] of Object.entries(rule.let || {})) lets[k] = exprText(v);
  return { conditions, actions, lets, description: rule.metadata?.description || "",
           regulation: rule.metadata?.regulation || "" };
}

const exprText = (e) => (e === undefined || e === null ? "" : String(e).trim());

/** From a full trace's events: the value each `let` binding and condition returned. */
export function returnedValues(events) {
  const lets = {};
  const conds = {};
  for (const e of events || []) {
    if (e.op !== "RET" || typeof e.fn !== "string") continue;
    if (e.fn.startsWith("let:")) lets[e.fn.slice(4)] = e.top;
    else if (e.fn.startsWith("cond:")) conds[e.fn.slice(5)] = e.top;
  }
  return { lets, conds };
}

/** Result items of `bucket` that came from this rule version, in order. */
function itemsOf(result, bucket, rr) {
  const items = result?.[bucket];
  if (!Array.isArray(items)) return [];
  return items.filter((x) => x && x.rule_id === rr.rule_id &&
                      (x.rule_version === undefined || x.rule_version === rr.version));
}

/**
 * The explanation of `record`. `shapes`: {"rule@version": ruleShape or null};
 * `fullTrace`: the full trace (list of {rule_id, version, events}) or null.
 */
export function explain(record, shapes = {}, fullTrace = null) {
  const traces = new Map((record.trace || []).map((t) => [`${t.rule_id}@${t.version}`, t]));
  const fulls = new Map((fullTrace || []).map((t) => [`${t.rule_id}@${t.version}`, t]));
  return (record.rule_results || []).map((rr) => {
    const key = `${rr.rule_id}@${rr.version}`;
    const shape = shapes[key] || null;
    const events = traces.get(key)?.events || [];
    const full = fulls.has(key) ? returnedValues(fulls.get(key).events) : null;
    const seen = new Set();
    const conditions = [];
    const addCond = (id, value) => {
      seen.add(id);
      conditions.push({ id, value, held: value === true, expression: shape?.conditions[id]?.expression ?? null,
                        description: shape?.conditions[id]?.description || "" });
    };
    for (const e of events) if (e.event === "condition") addCond(e.id, e.value);
    for (const [id, v] of Object.entries(rr.conditions || {})) if (!seen.has(id)) addCond(id, v);
    // Triggers and actions by the action's index in the rule.
    const triggers = {};
    const fired = [];
    const plugins = [];
    for (const e of events) {
      if (e.event === "trigger") triggers[e.action] = e.value;
      else if (e.event === "action") fired.push({ index: e.action, type: e.type });
      else if (e.event === "plugin_call") plugins.push(e);
    }
    // The k-th fired action of a type produced the k-th result item of its bucket from this rule.
    const used = {};
    const actions = (shape?.actions.length ? shape.actions.map((a, i) => ({ index: i, ...a }))
      : [...new Set([...Object.keys(triggers).map(Number), ...fired.map((f) => f.index)])]
          .sort((a, b) => a - b).map((i) => ({ index: i, type: fired.find((f) => f.index === i)?.type || null,
                                              trigger: null, config: null })));
    for (const a of actions) {
      const f = fired.find((x) => x.index === a.index);
      a.fired = !!f;
      a.type = a.type || f?.type || null;
      a.triggerValue = a.index in triggers ? triggers[a.index] : null;
      a.items = [];
      if (!f) continue;
      const bucket = BUCKET[a.type];
      if (a.type === "annotate") {
        const keys = Object.keys(a.config?.annotations || {});
        const ann = record.result?.annotations || {};
        a.items = keys.length ? [Object.fromEntries(keys.map((k) => [k, ann[k]]))] : [];
      } else if (bucket) {
        const n = used[bucket] || 0;
        used[bucket] = n + 1;
        const item = itemsOf(record.result, bucket, rr)[n];
        if (item) a.items = [item];
      }
    }
    const lets = full ? Object.entries(full.lets).map(([name, value]) => ({
      name, value, expression: shape?.lets[name] ?? null })) : [];
    return { rule_id: rr.rule_id, version: rr.version, status: rr.status, reason: rr.reason || null,
             error: rr.error || null, conditions, actions, plugins,
             plugin_calls: rr.plugin_calls || [], lets, shape };
  });
}
