// Who is signed in: `GET /api/v1/me` ({tenant, subject, roles, permissions, method}).
// The UI hides what the roles may not do; the API enforces it anyway.
import { signal } from "./signal.js";
import { get, setCredential } from "./api.js";

export const me = signal(null);

export async function signIn(kind, value) {
  setCredential(kind, value);
  try {
    me.set(await get("/api/v1/me"));
  } catch (exc) {
    setCredential(null);
    me.set(null);
    throw exc;
  }
}

export async function resume() {
  try {
    me.set(await get("/api/v1/me"));
  } catch {
    setCredential(null);
    me.set(null);
  }
}

export function signOut() {
  setCredential(null);
  me.set(null);
}

export function can(permission) {
  const who = me.get();
  return !!who && who.permissions.includes(permission);
}
