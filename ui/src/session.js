// Who is signed in: `GET /api/v1/me` ({tenant, subject, roles, permissions, method}).
// The UI hides what the roles may not do; the API enforces it anyway.
import { signal } from "./signal.js";
import { credential, get, setCredential } from "./api.js";

export const me = signal(null);
/** Why the kept credential could not be used at start-up (shown on the sign-in form). */
export const resumeError = signal(null);

export async function signIn(kind, value) {
  resumeError.set(null);
  setCredential(kind, value);
  try {
    me.set(await get("/api/v1/me"));
  } catch (exc) {
    setCredential(null);
    me.set(null);
    throw exc;
  }
}

/** At start-up: who the credential kept in this tab is, if one is kept (asking without
 * one would only earn a 401). A credential the API now refuses is dropped. */
export async function resume() {
  if (!credential()) return;
  try {
    me.set(await get("/api/v1/me"));
  } catch (exc) {
    signOut(exc);
  }
}

/** Forget the credential. `reason`: the ApiError that ended the session (a 401 once the
 * key is revoked or the token expired), shown on the sign-in form. */
export function signOut(reason = null) {
  setCredential(null);
  resumeError.set(reason);
  me.set(null);
}

export function can(permission) {
  const who = me.get();
  return !!who && who.permissions.includes(permission);
}
