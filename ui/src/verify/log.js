// The transparency log: RFC 9162 Merkle hashing, the inclusion proof of a record's trust
// proof under a signed tree head, and the tree head's Ed25519 signature, checked as the
// Python verifier checks them (verify_tree_head, verify_inclusion_proof, the log_index check).
//   leaf hash = SHA-256(0x00 || canonical bytes of the record's trust_proof)
//   node hash = SHA-256(0x01 || left || right)
import {
  b64urlDecode, canonical, CanonicalError, concat, ed25519Verify, fromHex, hex, sha256,
} from "./canonical.js";
import { check, FAILED, has, isInt, isObject, notChecked, repr, typeName } from "./util.js";

const HEX32 = /^[0-9a-f]{64}$/;
const B64URL = /^[A-Za-z0-9_-]+$/;

export async function leafHash(data) {
  return sha256(concat(new Uint8Array([0]), data));
}

export async function nodeHash(left, right) {
  return sha256(concat(new Uint8Array([1]), left, right));
}

/** The root an RFC 9162 inclusion proof leads to, or null when the proof is malformed.
 * Indices are plain numbers: exact up to 2**53 leaves, far beyond any log. */
export async function rootFromInclusion(leafIndex, treeSize, leaf, path) {
  if (!(leafIndex >= 0 && leafIndex < treeSize)) return null;
  let fn = leafIndex;
  let sn = treeSize - 1;
  let r = leaf;
  for (const p of path) {
    if (sn === 0) return null;
    if (fn % 2 === 1 || fn === sn) {
      r = await nodeHash(p, r);
      if (fn % 2 === 0) {
        while (fn !== 0 && fn % 2 === 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      r = await nodeHash(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 ? r : null;
}

export async function verifyInclusion(leafIndex, treeSize, leaf, path, root) {
  if (leaf.length !== 32 || root.length !== 32 || path.some((p) => p.length !== 32)) return false;
  const got = await rootFromInclusion(leafIndex, treeSize, leaf, path);
  return got !== null && hex(got) === hex(root);
}

/** What is wrong with a signed tree head's shape, or "". */
export function headProblem(head) {
  if (!isObject(head)) return `sth must be an object, not ${typeName(head)}`;
  const tests = [
    ["tree_size", isInt],
    ["root_hash", (v) => typeof v === "string" && HEX32.test(v)],
    ["timestamp", (v) => typeof v === "string"],
    ["key_id", (v) => typeof v === "string"],
    ["signature", (v) => typeof v === "string" && B64URL.test(v)],
  ];
  for (const [k, test] of tests) {
    if (!has(head, k)) return `sth lacks ${k}`;
    if (!test(head[k])) return `sth.${k} is malformed (${typeName(head[k])})`;
  }
  return "";
}

/** The tree head's signature: Ed25519 over the canonical bytes of its fields but
 * `signature`, by the published key it names. `keys` null: the keys could not be read. */
export async function verifyTreeHead(head, keys) {
  const problem = headProblem(head);
  if (problem) return check("tree_head_signature", false, problem);
  if (keys === null) {
    return notChecked("tree_head_signature", "not checked: the published keys could not be read, " +
      `so the signature of the tree head of size ${head.tree_size} is unverified`);
  }
  const key = keys.get(head.key_id);
  if (!key) return check("tree_head_signature", false, `no public key ${repr(head.key_id)}`);
  const unsigned = {};
  for (const k of ["tree_size", "root_hash", "timestamp", "key_id"]) unsigned[k] = head[k];
  let ok = false;
  try {
    ok = await ed25519Verify(key, b64urlDecode(head.signature), canonical(unsigned));
  } catch {
    ok = false;
  }
  return ok
    ? check("tree_head_signature", true, `tree head of size ${head.tree_size} signed by ${head.key_id}`)
    : check("tree_head_signature", false, "tree head signature does not match");
}

function inclusionProblem(inclusion) {
  if (!isObject(inclusion)) return `an inclusion proof must be an object, not ${typeName(inclusion)}`;
  for (const k of ["leaf_index", "tree_size"]) {
    if (!isInt(inclusion[k]) || inclusion[k] < 0) return `${k} must be a non-negative integer`;
  }
  const path = inclusion.audit_path;
  if (!Array.isArray(path) || path.length > 64 ||
      !path.every((p) => typeof p === "string" && HEX32.test(p))) {
    return "audit_path must be a list of at most 64 hashes (64 hex digits each)";
  }
  if (!has(inclusion, "sth")) return "the inclusion proof has no sth (signed tree head)";
  return "";
}

/** RFC 9162 inclusion of the record's proof under the signed tree head. */
export async function verifyInclusionProof(record, inclusion, keys) {
  const problem = inclusionProblem(inclusion);
  if (problem) return [check("inclusion", false, `malformed inclusion proof: ${problem}`)];
  const head = inclusion.sth;
  const checks = [await verifyTreeHead(head, keys)];
  if (checks[0].status === FAILED && headProblem(head)) return checks;
  const size = inclusion.tree_size;
  const index = inclusion.leaf_index;
  if (size !== head.tree_size) {
    checks.push(check("inclusion", false, "proof and tree head are for different sizes " +
      `(the proof says ${size}, the tree head ${head.tree_size})`));
    return checks;
  }
  if (has(record, "log_index") && record.log_index !== index) {
    checks.push(check("inclusion", false, `record says log_index ${repr(record.log_index)}, ` +
      `proof says ${index}`));
    return checks;
  }
  let leaf;
  try {
    if (!has(record, "trust_proof")) throw new CanonicalError("no trust_proof");
    leaf = await leafHash(canonical(record.trust_proof));
  } catch (exc) {
    checks.push(check("inclusion", false, `the record's proof has no leaf: ${exc.message}`));
    return checks;
  }
  const path = inclusion.audit_path.map(fromHex);
  const ok = await verifyInclusion(index, size, leaf, path, fromHex(head.root_hash));
  checks.push(check("inclusion", ok, ok
    ? `leaf ${index} is in the tree of size ${size} (root ${head.root_hash.slice(0, 16)}…)`
    : `the audit path does not lead to the tree head's root: the record's leaf hash is ` +
      `${hex(leaf)}, the tree head's root is ${head.root_hash}`));
  return checks;
}

/** The log checks of a record: its log_index against the inclusion proof. */
export async function logChecks(record, fmt, inclusion, keys) {
  if (!has(record, "log_index")) {
    if (fmt.recordRequired.includes("log_index")) {
      return [check("log_index", false, "the record has no log_index")];
    }
    return inclusion != null ? verifyInclusionProof(record, inclusion, keys) : [];
  }
  const index = record.log_index;
  if (!isInt(index) || index < 0) {
    return [check("log_index", false, `log_index must be a non-negative integer, not ${repr(index)}`)];
  }
  if (inclusion == null) {
    return [notChecked("log_index", "not checked: its only signed witness is the log, and no " +
      "inclusion proof was read")];
  }
  const checks = await verifyInclusionProof(record, inclusion, keys);
  const leafIndex = isObject(inclusion) ? inclusion.leaf_index : undefined;
  const ok = isInt(leafIndex) && leafIndex === index;
  checks.push(check("log_index", ok, ok
    ? `log_index ${index} is the leaf the inclusion proof proves`
    : `the record says log_index ${index}, the inclusion proof is for leaf ${repr(leafIndex)}`));
  return checks;
}
