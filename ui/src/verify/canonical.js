// Canonical JSON (RFC 8785, JCS), SHA-256 over it, base64url and hex: the byte-level
// primitives of ARKA's trust proofs, exactly as the Python engine computes them.
// Hashes are written "sha256:" + 64 lowercase hex digits. WebCrypto does the hashing.
import canonicalize from "canonicalize";

/** The deepest JSON value the engine canonicalises (an object or list is one level). */
export const MAX_DEPTH = 256;

export class CanonicalError extends Error {}

const encoder = new TextEncoder();

/** True when `value` nests objects/lists deeper than `limit` levels (iteratively). */
export function depthExceeds(value, limit) {
  const stack = [[value, 1]];
  while (stack.length) {
    const [v, level] = stack.pop();
    if (v === null || typeof v !== "object") continue;
    if (level > limit) return true;
    for (const x of Array.isArray(v) ? v : Object.values(v)) {
      if (x !== null && typeof x === "object") stack.push([x, level + 1]);
    }
  }
  return false;
}

/** The RFC 8785 text of a JSON value; CanonicalError when it has none (as the engine:
 * NaN/Infinity, a lone surrogate, a non-JSON value, nesting beyond MAX_DEPTH). */
export function canonicalText(value) {
  if (depthExceeds(value, MAX_DEPTH)) {
    throw new CanonicalError(`value cannot be canonicalised: nested deeper than ${MAX_DEPTH} levels`);
  }
  let text;
  try {
    text = canonicalize(value);
  } catch (exc) {
    throw new CanonicalError(`value cannot be canonicalised: ${exc.message}`);
  }
  if (text === undefined) throw new CanonicalError("value cannot be canonicalised: not JSON");
  return text;
}

/** The UTF-8 bytes of canonicalText(value). */
export function canonical(value) {
  return encoder.encode(canonicalText(value));
}

function subtle() {
  const s = globalThis.crypto?.subtle;
  if (!s) {
    throw new Error("WebCrypto (crypto.subtle) is not available: browsers offer it only to pages " +
      "served over https or from localhost");
  }
  return s;
}

export async function sha256(bytes) {
  return new Uint8Array(await subtle().digest("SHA-256", bytes));
}

export function hex(bytes) {
  let out = "";
  for (const b of bytes) out += b.toString(16).padStart(2, "0");
  return out;
}

/** Bytes of a hex string (the caller has checked it is hex of even length). */
export function fromHex(text) {
  const out = new Uint8Array(text.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(text.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** "sha256:" + lowercase hex SHA-256 of the canonical bytes. */
export async function digest(value) {
  return "sha256:" + hex(await sha256(canonical(value)));
}

const B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/** Bytes of unpadded base64url text; throws on a character outside the alphabet or an
 * impossible length (as Python's urlsafe_b64decode on validated text). */
export function b64urlDecode(text) {
  if (text.length % 4 === 1) throw new Error("base64url text of impossible length");
  const out = [];
  let acc = 0;
  let bits = 0;
  for (const ch of text) {
    const v = B64URL.indexOf(ch);
    if (v < 0) throw new Error(`not base64url: ${ch}`);
    acc = (acc << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push((acc >> bits) & 0xff);
    }
  }
  return new Uint8Array(out);
}

export function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Ed25519 public key (CryptoKey) from its 32 raw bytes. */
export async function ed25519Key(raw) {
  return subtle().importKey("raw", raw, { name: "Ed25519" }, false, ["verify"]);
}

/** True when `signature` is a valid Ed25519 signature of `data` by `key`; false on any error. */
export async function ed25519Verify(key, signature, data) {
  try {
    return await subtle().verify({ name: "Ed25519" }, key, signature, data);
  } catch {
    return false;
  }
}
