// What changed between two versions of a rule, in the terms of the rule language
// (docs/language.md): metadata keys, inputs, lets, conditions and actions added, removed
// or changed. Pure functions, no DOM: the diff screen renders the result and
// test/ruleDiff.test.js checks it on the example rules.
import { parseDocument, visit } from "yaml";
import { diffLines } from "diff";

/** Text of an expression without what does not change its meaning: comments and runs of
 * blanks outside string literals. So re-wrapping a `let` is not reported as a change. */
export function normalizeExpression(text) {
  if (typeof text !== "string") return text;
  let out = "";
  let quote = null;
  let blank = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (quote) {
      out += ch;
      if (ch === "\\" && i + 1 < text.length) out += text[++i];
      else if (ch === quote) quote = null;
      continue;
    }
    if (ch === "#") { // a comment runs to the end of the line
      while (i + 1 < text.length && text[i + 1] !== "\n") i++;
      continue;
    }
    if (/\s/.test(ch)) { blank = true; continue; }
    if (blank && out) out += " ";
    blank = false;
    if (ch === '"' || ch === "'") quote = ch;
    out += ch;
  }
  return out;
}

/** A stable text for any YAML value, for equality (object keys sorted). */
export function stable(value) {
  if (Array.isArray(value)) return `[${value.map(stable).join(",")}]`;
  if (value && typeof value === "object") {
    return `{${Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${stable(value[k])}`).join(",")}}`;
  }
  return JSON.stringify(value === undefined ? null : value);
}

const same = (a, b) => stable(a) === stable(b);

const scalar = (v) => v === null || typeof v !== "object";

/** Leaf paths of a value: {"config.severity": "high", "config.channels[0].type": ...}.
 * A list of plain values (tags, depends_on) is one leaf: shown whole, it reads better. */
export function flatten(value, prefix = "", out = {}) {
  if (Array.isArray(value) && value.length && !value.every(scalar)) {
    value.forEach((v, i) => flatten(v, `${prefix}[${i}]`, out));
  } else if (value && typeof value === "object" && !Array.isArray(value) &&
             Object.keys(value).length) {
    for (const [k, v] of Object.entries(value)) flatten(v, prefix ? `${prefix}.${k}` : k, out);
  } else {
    out[prefix] = value;
  }
  return out;
}

/** Field-level changes between two values: [{field, change, from, to}]. */
function fieldChanges(a, b, exprFields = []) {
  const fa = flatten(a || {});
  const fb = flatten(b || {});
  const out = [];
  for (const k of union(Object.keys(fa), Object.keys(fb))) {
    const isExpr = exprFields.includes(k);
    const va = isExpr ? normalizeExpression(fa[k]) : fa[k];
    const vb = isExpr ? normalizeExpression(fb[k]) : fb[k];
    if (same(va, vb)) continue;
    const change = !(k in fa) ? "added" : !(k in fb) ? "removed" : "changed";
    out.push({ field: k, change, from: fa[k], to: fb[k] });
  }
  return out;
}

function union(a, b) {
  const seen = new Set(a);
  return [...a, ...b.filter((x) => !seen.has(x))];
}

/** Items keyed by `keyOf`, compared field by field. */
function keyed(listA, listB, keyOf, exprFields) {
  const ma = new Map(listA.map((x, i) => [keyOf(x, i), x]));
  const mb = new Map(listB.map((x, i) => [keyOf(x, i), x]));
  const out = [];
  for (const k of union([...ma.keys()], [...mb.keys()])) {
    if (!ma.has(k)) out.push({ key: k, change: "added", to: mb.get(k) });
    else if (!mb.has(k)) out.push({ key: k, change: "removed", from: ma.get(k) });
    else {
      const fields = fieldChanges(ma.get(k), mb.get(k), exprFields);
      if (fields.length) out.push({ key: k, change: "changed", from: ma.get(k), to: mb.get(k), fields });
    }
  }
  return out;
}

const asList = (v) => (Array.isArray(v) ? v : []);
const actionLabel = (a) => `${a?.type ?? "?"} on ${normalizeExpression(String(a?.trigger ?? "?"))}`;

/** Actions have no id: pair identical ones first, then the same type on the same trigger,
 * then the same type with the same config (its trigger changed); the rest are added or
 * removed. Moving an action elsewhere in the list is not a change. */
function actionChanges(listA, listB) {
  const a = asList(listA).map((x, i) => ({ x, i, used: false }));
  const b = asList(listB).map((x, i) => ({ x, i, used: false }));
  const pairs = [];
  const pass = (match) => {
    for (const ea of a) {
      if (ea.used) continue;
      const eb = b.find((e) => !e.used && match(ea.x, e.x));
      if (eb) { ea.used = eb.used = true; pairs.push([ea, eb]); }
    }
  };
  const trig = (x) => normalizeExpression(String(x?.trigger ?? ""));
  pass((p, q) => same({ ...p, trigger: trig(p) }, { ...q, trigger: trig(q) }));
  pass((p, q) => p?.type === q?.type && trig(p) === trig(q));
  pass((p, q) => p?.type === q?.type && same(p?.config, q?.config));
  const out = [];
  for (const [ea, eb] of pairs.sort((p, q) => p[1].i - q[1].i)) {
    const fields = fieldChanges(ea.x, eb.x, ["trigger"]);
    if (fields.length) {
      out.push({ key: `${actionLabel(eb.x)} (action ${eb.i + 1})`, change: "changed",
                 from: ea.x, to: eb.x, fields });
    }
  }
  for (const eb of b.filter((e) => !e.used)) {
    out.push({ key: `${actionLabel(eb.x)} (action ${eb.i + 1})`, change: "added", to: eb.x });
  }
  for (const ea of a.filter((e) => !e.used)) {
    out.push({ key: `${actionLabel(ea.x)} (was action ${ea.i + 1})`, change: "removed", from: ea.x });
  }
  return out;
}

/** YAML to plain values, numbers kept as their source text: rule files are read exactly
 * (docs/language.md), so 10000.000000000000000001 must not become 10000 here. Throws the
 * first YAML error (with `linePos`). */
export function parseExact(source) {
  const doc = parseDocument(source ?? "", { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length) throw doc.errors[0];
  visit(doc, {
    Scalar(_, node) {
      if (typeof node.value === "number" || typeof node.value === "bigint") node.value = node.source;
    },
  });
  return doc.toJS({ maxAliasCount: 1000 });
}

/** Parse a rule file's text: {rule} or {error: {message, line, column}}. */
export function parseRule(source) {
  try {
    const doc = parseExact(source);
    if (!doc || typeof doc !== "object" || !doc.rule || typeof doc.rule !== "object") {
      return { error: { message: "the document has no top-level `rule` mapping" } };
    }
    return { rule: doc.rule };
  } catch (exc) {
    const pos = exc.linePos?.[0];
    return { error: { message: exc.message.split("\n")[0], line: pos?.line, column: pos?.col } };
  }
}

export const SECTIONS = [
  { id: "inputs", label: "Inputs" },
  { id: "let", label: "Lets" },
  { id: "conditions", label: "Conditions" },
  { id: "actions", label: "Actions" },
];

const KNOWN = new Set(["metadata", ...SECTIONS.map((s) => s.id)]);

/** The semantic diff of two rule sources (old → new):
 * {ok: true, metadata: [{key, change, from, to}], sections: {inputs, let, conditions,
 *  actions, other: [{key, change, from?, to?, fields?}]}, counts: {added, removed, changed},
 *  identical}
 * or {ok: false, errors: [{side: "from" | "to", message, line?, column?}]}.
 * `change` is "added", "removed" or "changed"; `fields` lists the changed parts of an item
 * ({field, change, from, to}: "expression", "config.severity", ...). */
export function ruleDiff(fromSource, toSource) {
  const a = parseRule(fromSource);
  const b = parseRule(toSource);
  const errors = [];
  if (a.error) errors.push({ side: "from", ...a.error });
  if (b.error) errors.push({ side: "to", ...b.error });
  if (errors.length) return { ok: false, errors };
  const ra = a.rule;
  const rb = b.rule;
  const metadata = fieldChanges(ra.metadata, rb.metadata)
    .map(({ field, change, from, to }) => ({ key: field, change, from, to }));
  const lets = (r) => Object.entries(r.let && typeof r.let === "object" ? r.let : {})
    .map(([name, expression]) => ({ name, expression }));
  const sections = {
    inputs: keyed(asList(ra.inputs), asList(rb.inputs), (x, i) => x?.name ?? `#${i + 1}`),
    let: keyed(lets(ra), lets(rb), (x) => x.name, ["expression"]),
    conditions: keyed(asList(ra.conditions), asList(rb.conditions),
                      (x, i) => x?.id ?? `#${i + 1}`, ["expression"]),
    actions: actionChanges(ra.actions, rb.actions),
    other: keyed(Object.keys(ra).filter((k) => !KNOWN.has(k)).map((k) => ({ k, v: ra[k] })),
                 Object.keys(rb).filter((k) => !KNOWN.has(k)).map((k) => ({ k, v: rb[k] })),
                 (x) => x.k),
  };
  const counts = { added: 0, removed: 0, changed: 0 };
  for (const item of [...metadata, ...Object.values(sections).flat()]) counts[item.change]++;
  const identical = counts.added + counts.removed + counts.changed === 0;
  return { ok: true, metadata, sections, counts, identical };
}

/** The line diff of two texts as rows {kind: "added" | "removed" | "same", text, oldNo,
 * newNo} (line numbers 1-based; null on the side a line is not on). */
export function lineRows(fromText, toText) {
  const rows = [];
  let oldNo = 1;
  let newNo = 1;
  for (const part of diffLines(fromText ?? "", toText ?? "")) {
    const lines = part.value.replace(/\n$/, "").split("\n");
    for (const text of lines) {
      if (part.added) rows.push({ kind: "added", text, oldNo: null, newNo: newNo++ });
      else if (part.removed) rows.push({ kind: "removed", text, oldNo: oldNo++, newNo: null });
      else rows.push({ kind: "same", text, oldNo: oldNo++, newNo: newNo++ });
    }
  }
  return rows;
}

/** Rows with long unchanged runs folded to `context` lines around each change:
 * [{kind: "fold", count, rows}] stands for the hidden ones. */
export function foldRows(rows, context = 3) {
  const near = rows.map(() => false);
  rows.forEach((r, i) => {
    if (r.kind === "same") return;
    for (let j = Math.max(0, i - context); j <= Math.min(rows.length - 1, i + context); j++) near[j] = true;
  });
  const out = [];
  let run = [];
  const flush = () => {
    if (run.length > 1) out.push({ kind: "fold", count: run.length, rows: run });
    else out.push(...run);
    run = [];
  };
  rows.forEach((r, i) => {
    if (r.kind === "same" && !near[i]) run.push(r);
    else { flush(); out.push(r); }
  });
  flush();
  return out;
}
