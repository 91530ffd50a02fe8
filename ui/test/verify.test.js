// The in-browser verifier (src/verify) against the Python verifier: every vector made by
// tests/ui_vectors.py (real engine records, tampered copies, canonical JSON cases) must
// give the same checks with the same statuses. The file is named by ARKA_UI_VECTORS
// (tests/test_ui_js.py writes it and runs vitest); without it those tests are skipped.
// The hand-written tests below need no vectors: they sign records with WebCrypto here.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { b64urlDecode, canonicalText, concat, digest, hex, sha256 } from "../src/verify/canonical.js";
import { groupOf, verdictOf, verifyAll } from "../src/verify/index.js";
import { keyIdOf } from "../src/verify/keys.js";
import { leafHash, nodeHash, rootFromInclusion, verifyInclusion } from "../src/verify/log.js";
import { anchorsCheck, rulesReference } from "../src/verify/record.js";

const VECTORS = process.env.ARKA_UI_VECTORS;
const vectors = VECTORS ? JSON.parse(readFileSync(VECTORS, "utf8")) : null;
if (!vectors) {
  console.warn("verify.test.js: ARKA_UI_VECTORS is not set, so the vectors made by the Python " +
    "engine are not checked (run `.venv/bin/pytest tests/test_ui_js.py`, or " +
    "`.venv/bin/python -m tests.ui_vectors OUT.json` and set ARKA_UI_VECTORS=OUT.json)");
}
const withVectors = vectors ? describe : describe.skip;

withVectors("the Python engine's vectors", () => {
  it("has records, tampered records and canonical cases", () => {
    expect(vectors.records.filter((v) => !v.tampered).length).toBeGreaterThanOrEqual(4);
    expect(vectors.records.filter((v) => v.tampered).length).toBeGreaterThanOrEqual(20);
    expect(vectors.records.some((v) => v.anchors.length)).toBe(true);
    expect(vectors.canonical.length).toBeGreaterThan(5);
  });

  for (const c of vectors?.canonical || []) {
    it(`canonicalises ${c.name} as the engine does`, async () => {
      const value = JSON.parse(c.text);
      expect(canonicalText(value)).toBe(c.canonical);
      expect(await digest(value)).toBe(c.digest);
    });
  }

  for (const v of vectors?.records || []) {
    it(`reports ${v.name} as the Python verifier does`, async () => {
      const record = JSON.parse(v.record_text);
      const report = await verifyAll({ record, jwks: v.jwks, inclusion: v.inclusion, anchors: v.anchors });
      const got = report.checks.map((c) => [c.check, c.status]);
      expect(got, JSON.stringify(report.checks, null, 1)).toEqual(v.expected.checks);
      expect(report.verdict).toBe(v.expected.cli_verdict);
      for (const c of report.checks) {
        expect(["record", "log", "anchor"]).toContain(c.group);
        expect(typeof c.detail).toBe("string");
        expect(c.detail.length).toBeGreaterThan(5);
      }
    });
  }

  it("names what differs when a hash does not match", async () => {
    const v = vectors.records.find((r) => r.name === "changed_decision");
    const report = await verifyAll({ record: JSON.parse(v.record_text), jwks: v.jwks,
      inclusion: v.inclusion, anchors: v.anchors });
    const failed = report.checks.find((c) => c.check === "output_hash");
    expect(failed.status).toBe("failed");
    expect(failed.detail).toMatch(/hashes to sha256:[0-9a-f]{64}, the proof says sha256:[0-9a-f]{64}/);
  });

  it("reports chain, transaction and confirmations of an anchor", async () => {
    const v = vectors.records.find((r) => !r.tampered && r.anchors.length);
    const report = await verifyAll({ record: JSON.parse(v.record_text), jwks: v.jwks,
      inclusion: v.inclusion, anchors: v.anchors });
    const a = report.checks.find((c) => c.check === "anchors");
    expect(a.group).toBe("anchor");
    expect(a.status).toBe("not_checked");
    expect(a.detail).toContain(v.anchors[0].chain);
    expect(a.detail).toContain(v.anchors[0].tx_hash);
    expect(a.detail).toContain(`${v.anchors[0].confirmations} confirmation`);
    expect(a.detail).toContain("covers log_index");
    expect(report.verdict).toBe("valid");
  });

  it("checks the log's checkpoint of the anchored tree with the published keys", async () => {
    const v = vectors.records.find((r) => !r.tampered && r.anchors.length && r.anchors[0].checkpoint);
    const detail = async (anchors) => (await verifyAll({ record: JSON.parse(v.record_text), jwks: v.jwks,
      inclusion: v.inclusion, anchors })).checks.find((c) => c.check === "anchors").detail;
    const kid = JSON.parse(v.record_text).trust_proof.key_id;
    expect(await detail(v.anchors)).toContain(`the log's checkpoint of that tree is signed by ${kid}`);
    const cp = v.anchors[0].checkpoint;
    const lines = cp.split("\n");
    const otherRoot = [lines[0], lines[1], "A".repeat(43) + "=", ...lines.slice(3)].join("\n");
    expect(await detail([{ ...v.anchors[0], checkpoint: otherRoot }])).toContain("checkpoint is of ANOTHER tree");
    const sig = lines[lines.length - 2];
    const forged = sig.slice(0, -6) + (sig.slice(-6, -5) === "A" ? "B" : "A") + sig.slice(-5);
    const badSig = [...lines.slice(0, -2), forged, ""].join("\n");
    expect(await detail([{ ...v.anchors[0], checkpoint: badSig }])).toContain("signed by NO published key");
    expect(await detail([{ ...v.anchors[0], checkpoint: "junk" }])).toContain("checkpoint is malformed");
  });

  it("without the keys: the signatures are not checked, the proof incomplete", async () => {
    const v = vectors.records.find((r) => r.name === "cash_over_threshold");
    const report = await verifyAll({ record: JSON.parse(v.record_text), jwks: null,
      inclusion: v.inclusion, anchors: v.anchors });
    const by = Object.fromEntries(report.checks.map((c) => [c.check, c.status]));
    expect(by.signature).toBe("not_checked");
    expect(by.tree_head_signature).toBe("not_checked");
    expect(by.input_hash).toBe("ok");
    expect(by.inclusion).toBe("ok");
    expect(report.verdict).toBe("incomplete");
  });

  it("without the inclusion proof: valid, log_index not checked", async () => {
    const v = vectors.records.find((r) => r.name === "numbers");
    const report = await verifyAll({ record: JSON.parse(v.record_text), jwks: v.jwks, inclusion: null,
      anchors: [] });
    const open = report.checks.filter((c) => c.status !== "ok").map((c) => [c.check, c.status, c.group]);
    expect(open).toEqual([["log_index", "not_checked", "log"]]);
    expect(report.verdict).toBe("valid");
  });
});

// ------------------------------------------------------------------ hand-written tests

describe("canonical JSON (RFC 8785)", () => {
  it("writes numbers as ECMAScript does", () => {
    expect(canonicalText([333333333.33333329, 1e30, 4.50, 2e-3, 0.000000000000000000000000001]))
      .toBe("[333333333.3333333,1e+30,4.5,0.002,1e-27]");
    expect(canonicalText([1.0, -0, 100, 1e21, 1e-7, 0.1 + 0.2])).toBe("[1,0,100,1e+21,1e-7,0.30000000000000004]");
  });

  it("sorts keys by UTF-16 code units and escapes only what JSON must", () => {
    const value = { "\u20ac": 1, "\r": 2, "\ufb33": 3, "1": 4, "\ud83d\ude00": 5, "\u0080": 6, "\u00f6": 7 };
    expect(canonicalText(value)).toBe('{"\\r":2,"1":4,"\u0080":6,"\u00f6":7,"\u20ac":1,"\ud83d\ude00":5,"\ufb33":3}');
    expect(canonicalText({ b: [true, null, "é\u2028\n\u001f"], a: {} })).toBe('{"a":{},"b":[true,null,"é\u2028\\n\\u001f"]}');
  });

  it("refuses what has no canonical form", () => {
    expect(() => canonicalText([NaN])).toThrow(/cannot be canonicalised/);
    expect(() => canonicalText("\ud800")).toThrow(/cannot be canonicalised/);
    let deep = [];
    for (let i = 0; i < 300; i++) deep = [deep];
    expect(() => canonicalText(deep)).toThrow(/nested deeper/);
  });

  it("hashes as sha256:<hex>", async () => {
    expect(await digest({})).toBe("sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a");
  });

  it("decodes unpadded base64url", () => {
    expect([...b64urlDecode("AP8")]).toEqual([0, 255]);
    expect([...b64urlDecode("-_-_")]).toEqual([251, 255, 191]);
    expect(() => b64urlDecode("A")).toThrow();
    expect(() => b64urlDecode("A+")).toThrow();
  });
});

// A reference Merkle tree (RFC 9162): root and audit paths straight from the definition.
async function mth(leaves) {
  if (leaves.length === 1) return leaves[0];
  let k = 1;
  while (k * 2 < leaves.length) k *= 2;
  return nodeHash(await mth(leaves.slice(0, k)), await mth(leaves.slice(k)));
}

async function path(m, leaves) {
  if (leaves.length <= 1) return [];
  let k = 1;
  while (k * 2 < leaves.length) k *= 2;
  if (m < k) return [...await path(m, leaves.slice(0, k)), await mth(leaves.slice(k))];
  return [...await path(m - k, leaves.slice(k)), await mth(leaves.slice(0, k))];
}

describe("RFC 9162 inclusion proofs", () => {
  it("verifies every leaf of trees of 1 to 11 leaves, and nothing else", async () => {
    for (let n = 1; n <= 11; n++) {
      const leaves = [];
      for (let i = 0; i < n; i++) leaves.push(await leafHash(new Uint8Array([i])));
      const root = await mth(leaves);
      for (let i = 0; i < n; i++) {
        const p = await path(i, leaves);
        expect(await verifyInclusion(i, n, leaves[i], p, root)).toBe(true);
        expect(await verifyInclusion(i, i, leaves[i], p, root)).toBe(false); // index out of the tree
        if (n > 1) expect(await verifyInclusion((i + 1) % n, n, leaves[i], p, root)).toBe(false);
        if (p.length) {
          expect(await verifyInclusion(i, n, leaves[i], p.slice(1), root)).toBe(false);
          const bad = p.map((h) => h.slice());
          bad[0][0] ^= 1;
          expect(await verifyInclusion(i, n, leaves[i], bad, root)).toBe(false);
        }
      }
      expect(await rootFromInclusion(n, n, leaves[0], [])).toBe(null);
    }
  });

  it("hashes leaves and nodes with their RFC 9162 prefixes", async () => {
    expect(hex(await leafHash(new Uint8Array())))
      .toBe("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d");
    const a = await sha256(new Uint8Array([1]));
    expect(hex(await nodeHash(a, a))).toBe(hex(await sha256(concat(new Uint8Array([1]), a, a))));
  });
});

// A version 2 record signed here, to test the verifier without the engine.
const b64url = (bytes) => Buffer.from(bytes).toString("base64url");

async function signer() {
  const pair = await crypto.subtle.generateKey({ name: "Ed25519" }, true, ["sign", "verify"]);
  const raw = new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey));
  const kid = await keyIdOf(raw);
  const sign = async (value) => b64url(new Uint8Array(await crypto.subtle.sign("Ed25519", pair.privateKey,
    new TextEncoder().encode(canonicalText(value)))));
  return { kid, sign, jwk: { kty: "OKP", crv: "Ed25519", x: b64url(raw), kid, alg: "EdDSA", use: "sig" } };
}

async function makeRecord(key, { logIndex = 0, treeSize = 1 } = {}) {
  const metadata = { rules: [{ rule_id: "r", version: "1.0.0", bytecode_hash: "sha256:" + "0".repeat(64) }],
    tables: [], evaluation_duration_ms: 1.25, engine_version: "test" };
  const record = { evaluation_id: "eval_1", timestamp: "2026-01-01T00:00:00.000000Z", context: { a: 1 },
    input: { amount: 10000.01, note: "café" }, result: { decision: "FLAG" }, rule_results: [],
    metadata, trace: [{ rule_id: "r", version: "1.0.0", events: [] }], log_index: logIndex };
  const signedMeta = { ...metadata };
  delete signedMeta.evaluation_duration_ms;
  const proof = { proof_version: 2, proof_id: "proof_1", evaluation_id: "eval_1", tenant: "default",
    timestamp: record.timestamp, input_hash: await digest(record.input),
    context_hash: await digest(record.context), rules_hash: await digest(rulesReference(metadata)),
    output_hash: await digest(record.result), trace_hash: await digest(record.trace),
    rule_results_hash: await digest(record.rule_results), metadata_hash: await digest(signedMeta),
    engine_version: "test", algorithm: "Ed25519", key_id: key.kid, evaluation_duration_ms: 1.25 };
  proof.signature = await key.sign(proof);
  record.trust_proof = proof;
  // a log of treeSize leaves, this record's at logIndex
  const leaves = [];
  for (let i = 0; i < treeSize; i++) {
    leaves.push(i === logIndex ? await leafHash(new TextEncoder().encode(canonicalText(proof)))
      : await leafHash(new Uint8Array([i])));
  }
  const head = { tree_size: treeSize, root_hash: hex(await mth(leaves)), timestamp: "2026-01-01T00:00:01Z",
    key_id: key.kid };
  head.signature = await key.sign(head);
  const inclusion = { evaluation_id: "eval_1", leaf_index: logIndex, tree_size: treeSize,
    leaf_hash: hex(leaves[logIndex]), audit_path: (await path(logIndex, leaves)).map(hex), sth: head };
  return { record, inclusion, jwks: { keys: [key.jwk] } };
}

const statuses = (report) => Object.fromEntries(report.checks.map((c) => [c.check, c.status]));

describe("verifyAll on records signed here", () => {
  it("passes a well-signed record with its inclusion proof", async () => {
    const key = await signer();
    const { record, inclusion, jwks } = await makeRecord(key, { logIndex: 2, treeSize: 5 });
    const report = await verifyAll({ record, jwks, inclusion, anchors: [] });
    expect(report.checks.filter((c) => c.status !== "ok")).toEqual([]);
    expect(report.verdict).toBe("valid");
    expect(statuses(report)).toMatchObject({ signature: "ok", tree_head_signature: "ok", inclusion: "ok",
      log_index: "ok", input_hash: "ok", tenant: "ok" });
  });

  it("finds each tampering", async () => {
    const key = await signer();
    const other = await signer();
    const cases = [
      ["output_hash", (r) => { r.record.result.decision = "ALLOW"; }],
      ["input_hash", (r) => { r.record.input.amount = 10000.02; }],
      ["trace_hash", (r) => { r.record.trace[0].events.push({ event: "x" }); }],
      ["rules_hash", (r) => { r.record.metadata.rules[0].version = "2"; }],
      ["evaluation_duration_ms", (r) => { r.record.metadata.evaluation_duration_ms = 3; }],
      ["signature", (r) => { r.record.trust_proof.engine_version = "forged"; }],
      ["signature", (r) => { r.jwks = { keys: [{ ...other.jwk, kid: key.kid }] }; }],
      ["tree_head_signature", (r) => { r.inclusion.sth.timestamp = "2027-01-01T00:00:00Z"; }],
      ["inclusion", (r) => { r.inclusion.audit_path[0] = "0".repeat(64); }],
      ["log_index", (r) => { r.record.log_index = 3; }],
      ["record_fields", (r) => { r.record.extra = 1; }],
      ["timestamp", (r) => { r.record.timestamp = "2020-01-01T00:00:00Z"; }],
      ["anchors", (r) => { r.record.anchors = [{ tree_size: 1 }]; }],
    ];
    for (const [name, change] of cases) {
      const r = await makeRecord(key, { logIndex: 1, treeSize: 3 });
      change(r);
      const report = await verifyAll({ ...r, anchors: [] });
      expect(statuses(report)[name], `${name}: ${JSON.stringify(report.checks)}`).toBe("failed");
      expect(report.verdict).toBe("invalid");
    }
  });

  it("says what is missing without keys or inclusion proof", async () => {
    const key = await signer();
    const { record, inclusion, jwks } = await makeRecord(key);
    let report = await verifyAll({ record, jwks: null, inclusion: null, anchors: [] });
    expect(statuses(report)).toMatchObject({ signature: "not_checked", log_index: "not_checked" });
    expect(report.checks.find((c) => c.check === "signature").detail).toMatch(/keys/);
    expect(report.verdict).toBe("incomplete");
    report = await verifyAll({ record, jwks, inclusion: null, anchors: [] });
    expect(report.verdict).toBe("valid");
    report = await verifyAll({ record, jwks: { keys: [{ kty: "RSA" }] }, inclusion, anchors: [] });
    expect(statuses(report).signature).toBe("failed");
    expect(report.checks.find((c) => c.check === "signature").detail).toMatch(/not an Ed25519 JWK/);
  });

  it("refuses what is not a record, never throwing", async () => {
    for (const record of [null, [], "x", 3, { trust_proof: 1 }]) {
      const report = await verifyAll({ record, jwks: null, inclusion: null, anchors: [] });
      expect(report.verdict).toBe("invalid");
      expect(report.checks[0].status).toBe("failed");
    }
  });

  it("without WebCrypto: incomplete, saying why, never invalid", async () => {
    const key = await signer();
    const { record, inclusion, jwks } = await makeRecord(key);
    const saved = Object.getOwnPropertyDescriptor(globalThis, "crypto");
    Object.defineProperty(globalThis, "crypto", { value: {}, configurable: true });
    try {
      const report = await verifyAll({ record, jwks, inclusion, anchors: [] });
      expect(report.verdict).toBe("incomplete");
      expect(report.checks).toHaveLength(1);
      expect(report.checks[0]).toMatchObject({ group: "record", check: "record", status: "not_checked" });
      expect(report.checks[0].detail).toMatch(/https or from localhost/);
    } finally {
      Object.defineProperty(globalThis, "crypto", saved);
    }
  });

  it("checks the record's evaluation id and tenant when given", async () => {
    const key = await signer();
    const { record, inclusion, jwks } = await makeRecord(key);
    const report = await verifyAll({ record, jwks, inclusion, evaluationId: "eval_2", tenant: "other" });
    expect(report.checks.filter((c) => c.status === "failed").map((c) => c.check)).toEqual(["evaluation_id", "tenant"]);
  });
});

describe("groups, verdicts and anchors", () => {
  it("groups checks as the panel shows them", () => {
    expect(["input_hash", "signature", "tenant", "proof_fields"].map(groupOf)).toEqual(["record", "record", "record", "record"]);
    expect(["log_index", "inclusion", "tree_head_signature"].map(groupOf)).toEqual(["log", "log", "log"]);
    expect(groupOf("anchors")).toBe("anchor");
  });

  it("decides as arka-cli verify does", () => {
    const c = (group, status) => ({ group, check: "x", status, detail: "" });
    expect(verdictOf([c("record", "ok"), c("log", "not_checked"), c("anchor", "not_checked")])).toBe("valid");
    expect(verdictOf([c("record", "not_checked")])).toBe("incomplete");
    expect(verdictOf([c("record", "ok"), c("anchor", "failed")])).toBe("invalid");
  });

  it("words anchors that do not cover the record", async () => {
    const a = { id: 4, chain: "dev", tree_size: 2, root_hash: "a".repeat(64) };
    const got = await anchorsCheck([a], 5, [{ ...a, status: "confirmed", tx_hash: "0xfeed", confirmations: 7 }]);
    expect(got.status).toBe("not_checked");
    expect(got.detail).toContain("does NOT cover log_index 5");
    expect(got.detail).toContain("0xfeed");
    expect((await anchorsCheck([], 5)).status).toBe("ok");
    expect((await anchorsCheck({}, 5)).status).toBe("failed");
  });
});
