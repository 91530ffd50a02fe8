// Downloads of what the API serves behind the credential (bundles, attachments, report
// drafts): a plain <a href> would not send the X-API-Key / Bearer header, so the content
// is fetched through api.js and offered as a Blob.
import { useState } from "preact/hooks";
import { html } from "../../html.js";
import { api } from "../../api.js";
import { ErrorBox } from "../../ui.js";

/** Save `blob` as `name` through a temporary object URL. */
export function saveBlob(blob, name) {
  const url = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  a.rel = "noopener";
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 30000);
}

/** The file name the server proposes (Content-Disposition), else `fallback`. */
export function fileName(res, fallback) {
  const cd = res.headers.get("Content-Disposition") || "";
  const m = /filename="([^"]+)"/.exec(cd);
  return m ? m[1] : fallback;
}

/** A button that GETs `path` (`query`) and saves the answer as `name`. */
export function DownloadButton({ path, query, name, label, describedBy }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const [done, setDone] = useState("");
  const run = async () => {
    setBusy(true); setError(null); setDone("");
    try {
      const res = await api("GET", path, { query, as: "response",
                                           headers: { Accept: "*/*" } });
      const blob = await res.blob();
      const file = fileName(res, name);
      saveBlob(blob, file);
      setDone(`Downloaded ${file}.`);
    } catch (exc) {
      setError(exc);
    } finally {
      setBusy(false);
    }
  };
  return html`<span class="download">
    <button type="button" onClick=${run} disabled=${busy} aria-describedby=${describedBy}>
      ${busy ? "Downloading…" : label}</button>
    <span class="muted small" role="status">${done}</span>
    ${error ? html`<${ErrorBox} error=${error} title="The download failed" />` : null}
  </span>`;
}
