// C2SP checkpoints (signed notes): the log's signed statement of a tree size and root, as
// GET /api/v1/anchors/{id} serves it for an anchored tree. The log signs its checkpoints
// with its Ed25519 signing keys under its origin as key name, so the published keys (the
// JWKS) verify them:
//   note      = text, a blank line, signature lines "— <name> <base64(key ID || signature)>"
//   key ID    = SHA-256(name || "\n" || 0x01 || public key)[:4]
//   text      = origin "\n" tree size "\n" base64(root) "\n" (extension lines)
import { concat, ed25519Key, ed25519Verify, hex, sha256 } from "./canonical.js";

const EM_DASH = "\u2014";
const encoder = new TextEncoder();

function b64decode(text) {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4) throw new Error("not standard base64");
  const bin = atob(text);
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}

/** {origin, size, root (hex), text, signatures: [{name, keyId (hex), signature}]}; throws
 * an Error naming what is malformed. */
export function parseCheckpoint(note) {
  if (typeof note !== "string") throw new Error("the checkpoint is not text");
  const split = note.lastIndexOf("\n\n");
  if (split < 0 || !note.endsWith("\n")) throw new Error("the checkpoint has no signature block");
  const text = note.slice(0, split + 1);
  const lines = note.slice(split + 2, -1).split("\n");
  const signatures = lines.map((line) => {
    const parts = line.startsWith(EM_DASH + " ") ? line.slice(2).split(" ") : [];
    if (parts.length !== 2) throw new Error(`malformed signature line ${JSON.stringify(line.slice(0, 40))}`);
    const blob = b64decode(parts[1]);
    if (blob.length < 5) throw new Error("a signature line is too short");
    return { name: parts[0], keyId: hex(blob.slice(0, 4)), signature: blob.slice(4) };
  });
  const [origin, sizeText, rootText] = text.split("\n");
  if (!origin || !/^(0|[1-9][0-9]*)$/.test(sizeText || "")) throw new Error("the checkpoint's text is malformed");
  const root = b64decode(rootText || "");
  if (root.length !== 32) throw new Error("the checkpoint's root is not a SHA-256 hash");
  return { origin, size: Number(sizeText), root: hex(root), text, signatures };
}

/** The id of the published key (a key id of the JWKS) that signed the checkpoint under
 * its origin, or null. `rawKeys`: Map(key id -> raw public key bytes). */
export async function checkpointSigner(cp, rawKeys) {
  const data = encoder.encode(cp.text);
  for (const [kid, raw] of rawKeys) {
    const noteId = hex((await sha256(concat(encoder.encode(cp.origin + "\n"), new Uint8Array([1]), raw))).slice(0, 4));
    for (const sig of cp.signatures) {
      if (sig.name !== cp.origin || sig.keyId !== noteId) continue;
      if (await ed25519Verify(await ed25519Key(raw), sig.signature, data)) return kid;
    }
  }
  return null;
}
