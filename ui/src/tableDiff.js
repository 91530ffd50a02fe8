// Two versions of a reference table compared in the table's own terms (docs/tables.md):
// rows added, removed and changed, each row named by the columns that identify it in its
// kind, and the changes to the table's own keys (name, version, kind, description).
// Pure functions: no DOM, no network.
import { parseDocument, visit } from "yaml";

/** The columns that name a row, per kind: two rows with the same values in them are
 * the same row in two versions. */
export const KEY_COLUMNS = {
  threshold: ["jurisdiction", "type", "effective_date"],
  fx_rate: ["from", "to", "effective_date"],
  list: ["value"],
};

/** What a column is when a row leaves it out (as the engine reads the row). */
const DEFAULTS = { threshold: { jurisdiction: "ALL", type: "default" } };

/** A number as the file writes it, kept exact: `10000`, `1.0950`. Compared by value
 * (1.095 and 1.0950 are the same rate), shown as written. */
export class Num {
  constructor(source) {
    this.source = String(source);
    this.value = normalizeNumber(this.source);
  }

  toString() {
    return this.source;
  }
}

/** A decimal's canonical text (no exponent, no leading or trailing zeros): `1.0950` and
 * `1.095` and `1095e-3` are all `1.095`. Anything else (hex, .inf) is kept lower-cased. */
export function normalizeNumber(text) {
  const m = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(String(text).trim().replaceAll("_", ""));
  if (!m || (!m[2] && !m[3])) return String(text).trim().toLowerCase();
  const [, sign, int = "", frac = "", exp = "0"] = m;
  let digits = int + frac;
  let point = int.length + Number(exp); // where the decimal point goes in `digits`
  const lead = digits.match(/^0*/)[0].length;
  digits = digits.slice(lead);
  point -= lead;
  digits = digits.replace(/0+$/, "");
  if (!digits) return "0";
  let out;
  if (point <= 0) out = `0.${"0".repeat(-point)}${digits}`;
  else if (point >= digits.length) out = digits + "0".repeat(point - digits.length);
  else out = `${digits.slice(0, point)}.${digits.slice(point)}`;
  return (sign === "-" ? "-" : "") + out;
}

/** Parse YAML keeping numbers exact (as `Num`). Throws the parser's first error. */
export function parseYaml(source) {
  const doc = parseDocument(source ?? "", { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length) throw doc.errors[0];
  visit(doc, {
    Scalar(_, node) {
      if (typeof node.value === "number" || typeof node.value === "bigint") {
        node.value = new Num(node.source ?? String(node.value));
      }
    },
  });
  return doc.toJS({ maxAliasCount: 1000 });
}

/** A table file's `table` mapping: {table} or {error: {message, line?, column?}}. */
export function parseTable(source) {
  try {
    const doc = parseYaml(source);
    if (!doc || typeof doc !== "object" || !doc.table || typeof doc.table !== "object" ||
        Array.isArray(doc.table)) {
      return { error: { message: "the document has no top-level `table` mapping" } };
    }
    return { table: doc.table };
  } catch (exc) {
    const pos = exc.linePos?.[0];
    return { error: { message: String(exc.message).split("\n")[0], line: pos?.line, column: pos?.col } };
  }
}

/** A value as text for people: numbers as written, strings as they are, the rest as JSON. */
export function valueText(v) {
  if (v === undefined) return "—";
  if (v === null) return "null";
  if (v instanceof Num) return v.source;
  if (typeof v === "string") return v;
  return JSON.stringify(v, (_, x) => (x instanceof Num ? Number(x.value) : x));
}

/** A text for equality: numbers by value, object keys sorted, strings apart from numbers. */
export function canon(v) {
  if (v === undefined) return "~";
  if (v instanceof Num) return `#${v.value}`;
  if (Array.isArray(v)) return `[${v.map(canon).join(",")}]`;
  if (v && typeof v === "object") {
    return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canon(v[k])}`).join(",")}}`;
  }
  return JSON.stringify(v);
}

/** A row with the kind's defaults filled in (what the engine reads). */
export function withDefaults(kind, row) {
  const r = row && typeof row === "object" && !Array.isArray(row) ? row : { value: row };
  return { ...(DEFAULTS[kind] || {}), ...r };
}

/** The identifying part of a row: {id (for matching), text (for people)}. A row without
 * an effective_date is in force from the start: "no effective date". */
export function rowKey(kind, row) {
  const cols = KEY_COLUMNS[kind] || Object.keys(row).sort();
  const r = withDefaults(kind, row);
  const id = cols.map((c) => canon(r[c])).join("|");
  const text = cols.map((c) => {
    if (r[c] === undefined || r[c] === null) return c === "effective_date" ? "no effective date" : `no ${c}`;
    return c === "effective_date" ? `from ${valueText(r[c])}` : valueText(r[c]);
  }).join(" · ");
  return { id, text };
}

/** Rows of a table mapping, each with its key; a key used twice gets "(2nd)" etc. so
 * that duplicates still pair up in order. */
function keyedRows(table) {
  const kind = table.kind;
  const rows = Array.isArray(table.rows) ? table.rows : [];
  const seen = new Map();
  return rows.map((row, index) => {
    const k = rowKey(kind, row);
    const n = (seen.get(k.id) || 0) + 1;
    seen.set(k.id, n);
    return { id: n > 1 ? `${k.id}#${n}` : k.id, key: n > 1 ? `${k.text} (occurrence ${n})` : k.text,
             row: withDefaults(kind, row), index };
  });
}

/** Column-level changes between two rows: [{field, change, from, to}]. */
function fieldChanges(a, b) {
  const fields = [...new Set([...Object.keys(a), ...Object.keys(b)])];
  const out = [];
  for (const field of fields) {
    if (canon(a[field]) === canon(b[field])) continue;
    const change = a[field] === undefined ? "added" : b[field] === undefined ? "removed" : "changed";
    out.push({ field, change, from: a[field], to: b[field] });
  }
  return out;
}

/** Changes to the table's own keys (everything but `rows`): [{key, change, from, to}]. */
function metadataChanges(a, b) {
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].filter((k) => k !== "rows");
  const order = ["name", "version", "kind", "description"];
  keys.sort((x, y) => (order.indexOf(x) + 1 || 99) - (order.indexOf(y) + 1 || 99));
  return fieldChanges(Object.fromEntries(keys.filter((k) => k in a).map((k) => [k, a[k]])),
                      Object.fromEntries(keys.filter((k) => k in b).map((k) => [k, b[k]])))
    .map(({ field, ...rest }) => ({ key: field, ...rest }));
}

/** The diff of two table sources (old → new):
 * {ok: true, kind, keyColumns, metadata: [{key, change, from, to}],
 *  rows: {added: [{key, row}], removed: [{key, row}], changed: [{key, from, to, fields}]},
 *  counts: {added, removed, changed, unchanged}, identical}
 * or {ok: false, errors: [{side: "from" | "to", message, line?, column?}]}.
 * Rows are matched by their kind's key columns (KEY_COLUMNS); when the kind itself changed,
 * each side keeps its own (and rows rarely match). */
export function tableDiff(fromSource, toSource) {
  const a = parseTable(fromSource);
  const b = parseTable(toSource);
  const errors = [];
  if (a.error) errors.push({ side: "from", ...a.error });
  if (b.error) errors.push({ side: "to", ...b.error });
  if (errors.length) return { ok: false, errors };
  const ta = a.table;
  const tb = b.table;
  const ra = keyedRows(ta);
  const rb = keyedRows(tb);
  const byA = new Map(ra.map((r) => [r.id, r]));
  const byB = new Map(rb.map((r) => [r.id, r]));
  const rows = { added: [], removed: [], changed: [] };
  let unchanged = 0;
  for (const r of rb) {
    const old = byA.get(r.id);
    if (!old) rows.added.push({ key: r.key, row: r.row });
    else {
      const fields = fieldChanges(old.row, r.row);
      if (fields.length) rows.changed.push({ key: r.key, from: old.row, to: r.row, fields });
      else unchanged++;
    }
  }
  for (const r of ra) if (!byB.has(r.id)) rows.removed.push({ key: r.key, row: r.row });
  const metadata = metadataChanges(ta, tb);
  const counts = { added: rows.added.length, removed: rows.removed.length,
                   changed: rows.changed.length, unchanged };
  const identical = !metadata.length && !counts.added && !counts.removed && !counts.changed;
  const kind = tb.kind;
  return { ok: true, kind, keyColumns: KEY_COLUMNS[kind] || [], metadata, rows, counts, identical };
}
