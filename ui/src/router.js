// Hash routing (`#/rules/aml-ctr`): works from /ui/ and from any static host without
// server rewrites. `route()` is the current {path, parts, query}.
import { useEffect, useState } from "preact/hooks";

export function parse(hash = location.hash) {
  const raw = hash.replace(/^#/, "") || "/";
  const [path, qs = ""] = raw.split("?");
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  return { path, parts, query: Object.fromEntries(new URLSearchParams(qs)) };
}

/** `#/a/b?x=1` from ("/a/b", {x: 1}); empty query values are left out. */
export function href(path, query = {}) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v !== undefined && v !== null && v !== "") q.set(k, String(v));
  }
  const s = q.toString();
  return `#${path}${s ? `?${s}` : ""}`;
}

export function navigate(path, query = {}) {
  location.hash = href(path, query);
}

export function useRoute() {
  const [route, setRoute] = useState(parse());
  useEffect(() => {
    const on = () => setRoute(parse());
    addEventListener("hashchange", on);
    return () => removeEventListener("hashchange", on);
  }, []);
  return route;
}

/** Path segment for a name: encoded so that names with "/" or "?" stay one segment. */
export const seg = (s) => encodeURIComponent(s);
