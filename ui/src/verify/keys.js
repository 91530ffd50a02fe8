// The published signing keys: a JWKS of Ed25519 keys (kty OKP, crv Ed25519, x = the raw
// 32-byte key in base64url). As the Python verifier does, each key is known by the id
// derived from its bytes ("ed25519-" + the first 16 hex digits of its SHA-256), never
// by the `kid` the JWKS claims, so a JWKS cannot pass one key off as another.
import { b64urlDecode, ed25519Key, hex, sha256 } from "./canonical.js";
import { isObject } from "./util.js";

export async function keyIdOf(raw) {
  return "ed25519-" + hex(await sha256(raw)).slice(0, 16);
}

/** {keys: Map(key id -> CryptoKey), raw: Map(key id -> 32 bytes), problems: [sentence],
 * unsupported?: why no key can be used here} from a JWKS, or one JWK. */
export async function loadKeys(jwks) {
  const keys = new Map();
  const rawKeys = new Map();
  const problems = [];
  let list;
  if (isObject(jwks) && Array.isArray(jwks.keys)) list = jwks.keys;
  else if (isObject(jwks)) list = [jwks];
  else return { keys, raw: rawKeys, problems: ["the key set is not a JWK or JWKS object"] };
  for (const [i, jwk] of list.entries()) {
    if (!isObject(jwk) || jwk.kty !== "OKP" || jwk.crv !== "Ed25519" || typeof jwk.x !== "string") {
      problems.push(`key ${i} is not an Ed25519 JWK (needs kty OKP, crv Ed25519, x)`);
      continue;
    }
    let raw;
    try {
      raw = b64urlDecode(jwk.x);
    } catch {
      raw = null;
    }
    if (!raw || raw.length !== 32) {
      problems.push(`key ${i}: x is not a 32-byte Ed25519 public key`);
      continue;
    }
    try {
      const kid = await keyIdOf(raw);
      keys.set(kid, await ed25519Key(raw));
      rawKeys.set(kid, raw);
    } catch (exc) {
      if (exc?.name === "NotSupportedError") {
        return { keys, raw: rawKeys, problems, unsupported: "this browser's WebCrypto has no Ed25519 " +
          "(a current Chromium, Firefox or Safari has it)" };
      }
      problems.push(`key ${i} cannot be used: ${exc.message}`);
    }
  }
  return { keys, raw: rawKeys, problems };
}
