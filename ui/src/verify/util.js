// Small helpers shared by the verifier: Check objects and Python-like type names, so the
// checks read as the Python verifier's (arka.trust.verification) do.
export const OK = "ok";
export const FAILED = "failed";
export const NOT_CHECKED = "not_checked";

/** A check as the Python verifier makes one: name, outcome, a sentence. */
export function check(name, ok, detail, status) {
  return { name, ok: Boolean(ok), detail, status: status || (ok ? OK : FAILED) };
}

export function notChecked(name, detail) {
  return check(name, false, detail, NOT_CHECKED);
}

export const isObject = (v) => v !== null && typeof v === "object" && !Array.isArray(v);
export const isInt = (v) => Number.isInteger(v);
export const has = (obj, key) => Object.prototype.hasOwnProperty.call(obj, key);

/** The JSON type of a value, worded as the Python verifier words it. */
export function typeName(v) {
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  switch (typeof v) {
    case "object": return "an object";
    case "string": return "a string";
    case "boolean": return "a boolean";
    case "number": return Number.isInteger(v) ? "an integer" : "a number";
    default: return typeof v;
  }
}

/** A value as Python's repr() would show it (near enough for a sentence). */
export function repr(v) {
  if (v === undefined) return "None";
  if (v === null) return "None";
  if (v === true) return "True";
  if (v === false) return "False";
  if (typeof v === "string") {
    return v.includes("'") && !v.includes('"') ? `"${v}"` : `'${v.replace(/'/g, "\\'")}'`;
  }
  if (typeof v === "number") return String(v);
  try {
    return JSON.stringify(v);
  } catch {
    return String(v);
  }
}
