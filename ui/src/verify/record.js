// An evaluation record against its trust proof, checked as the Python verifier
// (arka.trust.verification.verify_record) checks it: the same checks, in the same order,
// with the same names and outcomes. Every hash is SHA-256 over RFC 8785 canonical JSON.
import { b64urlDecode, canonical, canonicalText, depthExceeds, digest, ed25519Verify, MAX_DEPTH }
  from "./canonical.js";
import { logChecks } from "./log.js";
import { checkpointSigner, parseCheckpoint } from "./note.js";
import { check, has, isInt, isObject, notChecked, repr, typeName } from "./util.js";

/** Metadata keys signed by value in the proof (not by metadata_hash). */
export const PER_EVALUATION_METADATA = ["evaluation_duration_ms"];
export const RECORD_MAX_DEPTH = MAX_DEPTH + 8;

const HASH = /^sha256:[0-9a-f]{64}$/;
const B64URL = /^[A-Za-z0-9_-]+$/;
const HEX32 = /^[0-9a-f]{64}$/;
const HASH_KEYS = ["input_hash", "context_hash", "rules_hash", "output_hash", "trace_hash",
  "rule_results_hash", "metadata_hash", "full_trace_hash", "full_trace_ref_hash"];
const PROOF_FIELDS = ["proof_id", "evaluation_id", "timestamp", "input_hash", "context_hash",
  "rules_hash", "output_hash", "trace_hash", "engine_version", "algorithm", "key_id", "signature"];
const COMMON_FIELDS = ["evaluation_id", "timestamp", "context", "input", "result", "trace",
  "log_index", "anchors"];

/** The proof formats: required and optional proof keys, required and known record fields. */
export const FORMATS = {
  1: {
    version: 1,
    required: PROOF_FIELDS,
    optional: [],
    recordRequired: ["evaluation_id", "timestamp", "context", "input", "result", "metadata",
      "trace", "trust_proof"],
    fields: [...COMMON_FIELDS, "trust_proof", "metadata", "rule_results", "full_trace",
      "full_trace_ref"],
    uncovered: ["rule_results", "metadata (all but rules and tables)", "full_trace",
      "full_trace_ref"],
  },
  2: {
    version: 2,
    required: ["proof_version", "proof_id", "evaluation_id", "tenant", "timestamp", "input_hash",
      "context_hash", "rules_hash", "output_hash", "trace_hash", "rule_results_hash",
      "metadata_hash", "engine_version", "algorithm", "key_id", "signature"],
    optional: [...PER_EVALUATION_METADATA, "full_trace_hash", "full_trace_ref_hash"],
    recordRequired: ["evaluation_id", "timestamp", "context", "input", "result", "rule_results",
      "metadata", "trace", "trust_proof", "log_index"],
    fields: [...COMMON_FIELDS, "trust_proof", "metadata", "rule_results", "full_trace",
      "full_trace_ref"],
    uncovered: [],
  },
};

/** Python's iteration over a value, as `for r in value` would do it, or a TypeError. */
function pyIter(value) {
  if (Array.isArray(value)) return value;
  if (typeof value === "string") return [...value];
  if (isObject(value)) return Object.keys(value);
  throw new TypeError(`${typeName(value)} is not iterable`);
}

function pyItem(obj, key) {
  if (!isObject(obj)) throw new TypeError(`${typeName(obj)} has no field ${key}`);
  if (!has(obj, key)) throw new TypeError(`an entry lacks ${key}`);
  return obj[key];
}

/** The list rules_hash covers: rules in evaluation order, then the tables used. */
export function rulesReference(metadata) {
  const get = (k) => (has(metadata, k) ? metadata[k] : []);
  const rules = pyIter(get("rules")).map((r) => ({
    rule_id: pyItem(r, "rule_id"), version: pyItem(r, "version"),
    bytecode_hash: pyItem(r, "bytecode_hash"),
  }));
  const tables = pyIter(get("tables")).map((t) => ({
    table: pyItem(t, "table"), version: pyItem(t, "version"), content_hash: pyItem(t, "content_hash"),
  }));
  return [...rules, ...tables];
}

/** The part of metadata that metadata_hash covers: all but the per-evaluation keys. */
export function signedMetadata(metadata) {
  const out = {};
  for (const [k, v] of Object.entries(metadata)) {
    if (!PER_EVALUATION_METADATA.includes(k)) out[k] = v;
  }
  return out;
}

function metadataObject(meta) {
  if (!isObject(meta)) throw new TypeError(`metadata must be an object, not ${typeName(meta)}`);
  return meta;
}

function formatOf(proof) {
  if (!has(proof, "proof_version")) return [FORMATS[1], ""];
  const v = proof.proof_version;
  if (!isInt(v) || !FORMATS[v]) {
    return [null, `trust_proof.proof_version is ${repr(v)}: this verifier knows versions ` +
      `${Object.keys(FORMATS).join(", ")} (absent = 1)`];
  }
  return [FORMATS[v], ""];
}

function proofProblems(proof, fmt) {
  const problems = fmt.required.filter((k) => !has(proof, k)).map((k) => `trust_proof lacks ${k}`);
  const known = new Set([...fmt.required, ...fmt.optional]);
  for (const k of Object.keys(proof)) {
    if (!known.has(k)) {
      problems.push(`trust_proof.${k} is not a field of proof version ${fmt.version} (an unsigned claim)`);
    }
  }
  for (const [k, v] of Object.entries(proof)) {
    if (!known.has(k) || k === "proof_version") continue;
    if (PER_EVALUATION_METADATA.includes(k)) {
      if (typeof v !== "number") problems.push(`trust_proof.${k} must be a number, not ${typeName(v)}`);
    } else if (typeof v !== "string") {
      problems.push(`trust_proof.${k} must be a string, not ${typeName(v)}`);
    } else if (HASH_KEYS.includes(k) && !HASH.test(v)) {
      problems.push(`trust_proof.${k} must be 'sha256:' and 64 lowercase hex digits`);
    } else if (k === "signature" && !B64URL.test(v)) {
      problems.push("trust_proof.signature must be unpadded base64url");
    }
  }
  return problems;
}

async function hashOf(record, key, make) {
  if (!has(record, key)) return [null, `the record has no ${key}`];
  try {
    const value = make ? make(record[key]) : record[key];
    return [await digest(value), ""];
  } catch (exc) {
    return [null, exc instanceof TypeError ? `${key} is malformed (${exc.message})`
      : `${key} cannot be hashed: ${exc.message}`];
  }
}

function same(a, b) {
  try {
    return canonicalText(a) === canonicalText(b);
  } catch {
    return false;
  }
}

async function signatureCheck(proof, keys) {
  if (keys === null) {
    return notChecked("signature", "not checked: the published keys (GET /api/v1/keys) could " +
      `not be read, so the signature by ${proof.key_id} is unverified`);
  }
  const key = keys.get(proof.key_id);
  if (!key) return check("signature", false, `no public key ${repr(proof.key_id)} among the published keys`);
  if (proof.algorithm !== "Ed25519") {
    return check("signature", false, `unsupported algorithm ${repr(proof.algorithm)}`);
  }
  const unsigned = {};
  for (const [k, v] of Object.entries(proof)) if (k !== "signature") unsigned[k] = v;
  let ok = false;
  try {
    ok = await ed25519Verify(key, b64urlDecode(proof.signature), canonical(unsigned));
  } catch {
    ok = false;
  }
  return ok ? check("signature", true, `valid Ed25519 signature by ${proof.key_id}`)
    : check("signature", false, "the signature does not match the proof");
}

function perEvaluationChecks(record, proof, checks) {
  const meta = record.metadata;
  if (!isObject(meta)) return; // metadata_hash reports it
  for (const key of PER_EVALUATION_METADATA) {
    const inMeta = has(meta, key);
    const inProof = has(proof, key);
    if (!inMeta && !inProof) continue;
    if (!inMeta || !inProof) {
      checks.push(check(key, false, `only ${inMeta ? "metadata" : "the proof"} has ${key}`));
    } else {
      const ok = same(meta[key], proof[key]);
      checks.push(check(key, ok, ok ? `metadata.${key} matches the proof`
        : `metadata.${key} is ${repr(meta[key])}, the proof says ${repr(proof[key])}`));
    }
  }
}

async function checkpointWords(d, a, rawKeys) {
  if (typeof d.checkpoint !== "string") return "";
  let cp;
  try {
    cp = parseCheckpoint(d.checkpoint);
  } catch (exc) {
    return `; its checkpoint is malformed (${exc.message})`;
  }
  if (cp.size !== a.tree_size || cp.root !== a.root_hash) {
    return `; its checkpoint is of ANOTHER tree (size ${cp.size}, root ${cp.root.slice(0, 16)}…)`;
  }
  if (!rawKeys) return "; its checkpoint is of that tree (signature not checked: no published keys)";
  const kid = await checkpointSigner(cp, rawKeys);
  return kid ? `; the log's checkpoint of that tree is signed by ${kid}`
    : "; its checkpoint is signed by NO published key";
}

/** The anchors the record lists: well formed, and (not from a browser) on chain. `details`
 * are the anchors as GET /api/v1/anchors/{id} shows them, for the sentence: chain, status,
 * transaction, block, confirmations, and whether the log's checkpoint of the anchored tree
 * verifies with the published keys (the chain itself is the only witness that counts, so
 * the check stays not checked, as the Python verifier without --anchor reports it). */
export async function anchorsCheck(anchors, logIndex, details = [], { rawKeys = null, inclusion = null } = {}) {
  if (!Array.isArray(anchors)) return check("anchors", false, `anchors must be a list, not ${typeName(anchors)}`);
  if (!anchors.length) return check("anchors", true, "no anchors listed");
  for (const [i, a] of anchors.entries()) {
    if (!isObject(a) || typeof a.root_hash !== "string" || !HEX32.test(a.root_hash) ||
        !isInt(a.tree_size)) {
      return check("anchors", false, `anchors[${i}] needs root_hash (64 hex digits) and tree_size (an integer)`);
    }
  }
  const byId = new Map((Array.isArray(details) ? details : []).filter(isObject).map((d) => [d.id, d]));
  const head = isObject(inclusion) && isObject(inclusion.sth) ? inclusion.sth : null;
  const parts = [];
  for (const a of anchors) {
    const d = { ...a, ...(byId.get(a.id) || {}) };
    const covers = isInt(logIndex) ? (a.tree_size > logIndex ? `covers log_index ${logIndex}`
      : `does NOT cover log_index ${logIndex}`) : "log_index unknown";
    const differs = d.root_hash !== a.root_hash || d.tree_size !== a.tree_size
      ? `; the anchor's own view says tree size ${d.tree_size}, root ${String(d.root_hash).slice(0, 16)}…` : "";
    const sameHead = head && head.tree_size === a.tree_size
      ? (head.root_hash === a.root_hash ? "; same root as the inclusion proof's tree head"
        : "; a DIFFERENT root from the inclusion proof's tree head of that size") : "";
    parts.push(`${d.chain ?? "?"}${d.id !== undefined ? ` #${d.id}` : ""}: ${d.status ?? "status unknown"}, ` +
      `tree size ${a.tree_size} (${covers}), root ${a.root_hash.slice(0, 16)}…, ` +
      `tx ${d.tx_hash ?? "none"}, block ${d.block_number ?? "none"}, ` +
      `${d.confirmations ?? 0} confirmation(s)${differs}${sameHead}${await checkpointWords(d, a, rawKeys)}`);
  }
  return notChecked("anchors", `${anchors.length} anchor(s) listed by the service when the record ` +
    "was read, not signed; not checked here, since a browser cannot read the chain (arka-cli " +
    `verify --anchor reads them from the anchor contract): ${parts.join(". ")}`);
}

/** Every check of a record. `keys`: Map(key id -> CryptoKey), or null when the published
 * keys could not be read. `inclusion`: the inclusion proof, or null. */
export async function verifyRecord(record, keys, { inclusion = null, tenant, evaluationId,
  anchorDetails = [], rawKeys = null } = {}) {
  if (!isObject(record)) {
    return [check("record", false, `an evaluation record must be a JSON object, not ${typeName(record)}`)];
  }
  if (depthExceeds(record, RECORD_MAX_DEPTH)) {
    return [check("record", false, `the record nests deeper than ${RECORD_MAX_DEPTH} levels; no ARKA record does`)];
  }
  const proof = record.trust_proof;
  if (!isObject(proof)) {
    return [check("proof_fields", false, `the record has no trust_proof object (it has ${typeName(proof)})`)];
  }
  const [fmt, problem] = formatOf(proof);
  if (!fmt) return [check("proof_version", false, problem)];
  const problems = proofProblems(proof, fmt);
  if (problems.length) return [check("proof_fields", false, problems.join("; "))];
  const checks = [check("proof_fields", true, `proof version ${fmt.version}: every field present, each of its type`)];
  const unknown = Object.keys(record).filter((k) => !fmt.fields.includes(k));
  checks.push(check("record_fields", !unknown.length, !unknown.length
    ? "only fields the proof format knows"
    : `field(s) ${unknown.map(repr).join(", ")} are not part of a version ${fmt.version} record (unsigned claims)`));

  const hashCheck = async (name, key, make, what) => {
    what = what || key;
    const [actual, why] = await hashOf(record, key, make);
    if (actual === null) checks.push(check(name, false, why));
    else if (!has(proof, name)) {
      checks.push(check(name, false, `the record carries ${key}, which the proof does not cover (an unsigned claim)`));
    } else {
      const ok = actual === proof[name];
      checks.push(check(name, ok, ok ? `${what} matches`
        : `${what} hashes to ${actual}, the proof says ${proof[name]}`));
    }
  };
  const sameCheck = (name, key, expected, what) => {
    if (!has(record, key)) checks.push(check(name, false, `the record has no ${key}`));
    else if (typeof record[key] !== "string" || record[key] !== expected) {
      checks.push(check(name, false, `record ${key} ${repr(record[key])} is not the ${what} ${repr(expected)}`));
    } else checks.push(check(name, true, `${key} matches the ${what}`));
  };

  await hashCheck("input_hash", "input");
  await hashCheck("context_hash", "context");
  await hashCheck("output_hash", "result");
  await hashCheck("trace_hash", "trace");
  await hashCheck("rules_hash", "metadata", (m) => rulesReference(metadataObject(m)),
    "metadata.rules and metadata.tables (rule and table versions)");
  sameCheck("evaluation_id", "evaluation_id", proof.evaluation_id, "proof's");
  if (evaluationId != null && proof.evaluation_id !== evaluationId) {
    checks.push(check("evaluation_id", false, `asked for ${evaluationId}, the proof is for ${proof.evaluation_id}`));
  }
  sameCheck("timestamp", "timestamp", proof.timestamp, "proof's");
  if (fmt.version >= 2) {
    await hashCheck("rule_results_hash", "rule_results");
    await hashCheck("metadata_hash", "metadata", (m) => signedMetadata(metadataObject(m)),
      `metadata (except ${PER_EVALUATION_METADATA.join(", ")})`);
    perEvaluationChecks(record, proof, checks);
    for (const key of ["full_trace", "full_trace_ref"]) {
      if (has(record, key)) await hashCheck(`${key}_hash`, key);
    }
    if (has(proof, "full_trace_hash") && !has(record, "full_trace") && !has(record, "full_trace_ref")) {
      checks.push(check("full_trace_hash", false, "the proof covers a full trace the record does " +
        "not carry (neither full_trace nor full_trace_ref)"));
    }
    if (has(proof, "full_trace_ref_hash") && !has(record, "full_trace_ref")) {
      checks.push(check("full_trace_ref_hash", false, "the proof covers a full_trace_ref the record does not carry"));
    }
    const expected = tenant != null ? tenant : proof.tenant;
    const ok = proof.tenant === expected;
    checks.push(check("tenant", ok, ok ? `signed for tenant ${repr(proof.tenant)}`
      : `signed for tenant ${repr(proof.tenant)}, read as tenant ${repr(tenant)}`));
  } else {
    const present = ["rule_results", "metadata", "full_trace", "full_trace_ref"].filter((k) => has(record, k));
    checks.push(notChecked("proof_version_1", `proof version 1 does not cover ${fmt.uncovered.join(", ")}; ` +
      `present here and unchecked: ${present.join(", ") || "none"}`));
  }
  checks.push(await signatureCheck(proof, keys));
  checks.push(...await logChecks(record, fmt, inclusion, keys));
  if (has(record, "anchors")) {
    checks.push(await anchorsCheck(record.anchors, record.log_index, anchorDetails, { rawKeys, inclusion }));
  }
  return checks;
}
