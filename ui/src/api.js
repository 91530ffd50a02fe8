// The one way the dashboard talks to ARKA Core.
//
// The credential (an API key or a JWT) lives in this tab's sessionStorage: it is sent as
// a request header, never as a cookie, so another site cannot make the browser use it
// (no CSRF), and storage is per origin, so pages of other origins cannot read it. It is
// gone when the tab closes or on sign-out.

const STORE = "arka.session";
let apiBase = "";
let session = load();

function load() {
  try {
    const raw = sessionStorage.getItem(STORE);
    return raw ? JSON.parse(raw) : null;
  } catch {
    return null;
  }
}

/** Read the deployment's `config.json` (next to index.html): `{api_base}`. */
export async function configure() {
  try {
    const res = await fetch("./config.json", { cache: "no-store" });
    if (res.ok) {
      const cfg = await res.json();
      if (typeof cfg.api_base === "string") apiBase = cfg.api_base.replace(/\/+$/, "");
    }
  } catch {
    // No config.json: the API is on this origin.
  }
  return apiBase;
}

export function baseUrl() {
  return apiBase;
}

/** An error the API answered (`{error: {code, message, details, request_id}}`), or a
 * network failure (status 0). */
export class ApiError extends Error {
  constructor(status, code, message, details = [], requestId = null) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
    this.requestId = requestId;
  }
}

export function credential() {
  return session;
}

/** `kind`: "api_key" (sent as X-API-Key) or "jwt" (sent as Authorization: Bearer). */
export function setCredential(kind, value) {
  session = kind && value ? { kind, value } : null;
  if (session) sessionStorage.setItem(STORE, JSON.stringify(session));
  else sessionStorage.removeItem(STORE);
}

function authHeaders() {
  if (!session) return {};
  return session.kind === "jwt"
    ? { Authorization: `Bearer ${session.value}` }
    : { "X-API-Key": session.value };
}

function queryString(query) {
  if (!query) return "";
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v !== undefined && v !== null && v !== "") q.set(k, String(v));
  }
  const s = q.toString();
  return s ? `?${s}` : "";
}

/** Call the API. `body`: an object (sent as JSON) or a string (sent as `contentType`).
 * `as`: "json" (default), "text" or "response". Throws ApiError. */
export async function api(method, path, { query, body, contentType, as = "json",
                                           headers = {} } = {}) {
  const init = { method, headers: { Accept: "application/json", ...authHeaders(), ...headers },
                 credentials: "omit", cache: "no-store" };
  if (body !== undefined) {
    if (typeof body === "string") {
      init.body = body;
      init.headers["Content-Type"] = contentType || "text/plain";
    } else {
      init.body = JSON.stringify(body);
      init.headers["Content-Type"] = "application/json";
    }
  }
  let res;
  try {
    res = await fetch(apiBase + path + queryString(query), init);
  } catch (exc) {
    throw new ApiError(0, "NETWORK", `ARKA Core did not answer (${exc.message}); check that ` +
                       "it is running and that this page's origin is allowed by its CORS setting");
  }
  if (!res.ok) {
    let err = null;
    try {
      err = (await res.json()).error;
    } catch {
      // not an API error body
    }
    const error = new ApiError(res.status, err?.code || `HTTP_${res.status}`,
                               err?.message || `${method} ${path}: HTTP ${res.status}`,
                               err?.details || [], err?.request_id || null);
    if (res.status === 401 && session) onSignedOut?.(error);
    throw error;
  }
  if (as === "response") return res;
  if (as === "text") return res.text();
  if (res.status === 204) return null;
  return res.json();
}

let onSignedOut = null;
/** `fn(error)` is called when the API refuses the stored credential (expired, revoked). */
export function whenSignedOut(fn) {
  onSignedOut = fn;
}

export const get = (path, query, opts = {}) => api("GET", path, { ...opts, query });
export const post = (path, body, opts = {}) => api("POST", path, { ...opts, body });
export const del = (path, opts = {}) => api("DELETE", path, opts);
