// The in-browser verifier of an evaluation record: everything checked here, from what the
// server serves (the record, its published keys, the log's inclusion proof, the anchors),
// without asking the server's verify endpoint. The checks, their names and outcomes are
// the Python verifier's (arka-cli verify); ui/test/verify.test.js holds the two to the same
// vectors, made by the Python engine.
import { loadKeys } from "./keys.js";
import { verifyRecord } from "./record.js";
import { FAILED, NOT_CHECKED, notChecked, OK } from "./util.js";

export { canonical, canonicalText, digest } from "./canonical.js";
export { loadKeys } from "./keys.js";
export { verifyInclusionProof, verifyTreeHead } from "./log.js";
export { verifyRecord } from "./record.js";

const LOG_CHECKS = new Set(["log_index", "inclusion", "tree_head_signature", "checkpoint", "cosignatures"]);

/** The panel's group of a check: "record", "log" or "anchor". */
export function groupOf(name) {
  if (name === "anchors") return "anchor";
  return LOG_CHECKS.has(name) ? "log" : "record";
}

/** invalid when a check failed; valid when every record check passed (a log or anchor
 * check that could not run is allowed, as arka-cli verify allows log_index and anchors
 * without --inclusion / --anchor); incomplete otherwise. */
export function verdictOf(checks) {
  if (checks.some((c) => c.status === FAILED)) return "invalid";
  const open = checks.filter((c) => c.status !== OK);
  return open.every((c) => c.group !== "record") ? "valid" : "incomplete";
}

/**
 * Verify a record in this browser.
 * @param {object} a
 * @param {object} a.record GET /api/v1/evaluations/{id}
 * @param {object|null} a.jwks GET /api/v1/keys (null: it could not be read)
 * @param {object|null} a.inclusion GET /api/v1/log/inclusion?evaluation_id= (null: none)
 * @param {object[]} [a.anchors] the record's anchors with GET /api/v1/anchors/{id} merged in
 * @param {string} [a.evaluationId] the id the record was asked for
 * @param {string} [a.tenant] the tenant it was read under
 * @returns {Promise<{verdict: string, checks: {group, check, status, detail}[]}>}
 */
export async function verifyAll({ record, jwks = null, inclusion = null, anchors = [],
  evaluationId, tenant } = {}) {
  if (!globalThis.crypto?.subtle) {
    const c = notChecked("record", "the verifier could not run in this browser: WebCrypto " +
      "(crypto.subtle) is not available, and browsers offer it only to pages served over https " +
      "or from localhost");
    return { verdict: "incomplete", checks: [{ group: "record", check: c.name, status: c.status, detail: c.detail }] };
  }
  let keys = null;
  let rawKeys = null;
  let unsupported = "";
  const notes = [];
  let raw;
  try {
    if (jwks != null) {
      const loaded = await loadKeys(jwks);
      unsupported = loaded.unsupported || "";
      if (!unsupported) {
        keys = loaded.keys;
        rawKeys = loaded.raw;
      }
      notes.push(...loaded.problems);
    }
    raw = await verifyRecord(record, keys, { inclusion, tenant, evaluationId, anchorDetails: anchors, rawKeys });
  } catch (exc) { // no WebCrypto (a page not served over https or from localhost), or a bug
    raw = [notChecked("record", `the verifier could not run in this browser: ${exc.message}`)];
  }
  const checks = raw.map((c) => {
    let detail = c.detail;
    if (unsupported && c.status === NOT_CHECKED && ["signature", "tree_head_signature"].includes(c.name)) {
      detail = `not checked: ${unsupported}`;
    } else if (c.name === "signature" && notes.length) {
      detail += ` (unusable published keys: ${notes.join("; ")})`;
    }
    return { group: groupOf(c.name), check: c.name, status: c.status, detail };
  });
  return { verdict: verdictOf(checks), checks };
}

export { FAILED, NOT_CHECKED, OK };
