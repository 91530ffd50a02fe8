// A case's attachments: listed with their SHA-256, downloaded through the API (which
// checks the content against that hash), and added (cases:work; at most 5 MiB; the
// service answers 503 when no object storage is configured).
import { useRef, useState } from "preact/hooks";
import { html } from "../../html.js";
import { post } from "../../api.js";
import { seg } from "../../router.js";
import { can } from "../../session.js";
import { Empty, ErrorBox, Field, Table, short } from "../../ui.js";
import { DownloadButton } from "./download.js";
import { bytes } from "./model.js";

const MAX = 5 * 1024 * 1024;

/** The file's content as base64 (without the data: URL prefix). */
function readBase64(file) {
  return new Promise((resolve, reject) => {
    const r = new FileReader();
    r.onload = () => resolve(String(r.result).replace(/^data:[^,]*,/, ""));
    r.onerror = () => reject(r.error);
    r.readAsDataURL(file);
  });
}

function Upload({ c, onDone }) {
  const input = useRef(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const submit = async (e) => {
    e.preventDefault();
    const file = input.current?.files?.[0];
    setError(null);
    if (!file) return;
    if (file.size > MAX) {
      setError({ code: "TOO_LARGE", message: `${file.name} is ${bytes(file.size)}; attachments are at most 5 MiB` });
      return;
    }
    setBusy(true);
    try {
      const content = await readBase64(file);
      await post(`/api/v1/cases/${seg(c.id)}/attachments`, {
        name: file.name, media_type: file.type || "application/octet-stream",
        content_base64: content });
      input.current.value = "";
      onDone(null, `Attached ${file.name}.`);
    } catch (exc) {
      setError(exc);
    } finally {
      setBusy(false);
    }
  };
  return html`<form class="row case-upload" aria-label="Attach a file" onSubmit=${submit}>
    <${Field} id="ca-file" label="File" hint="At most 5 MiB; kept sealed with its SHA-256.">
      <input id="ca-file" type="file" ref=${input} required /><//>
    <button type="submit" disabled=${busy}>${busy ? "Attaching…" : "Attach"}</button>
    <${ErrorBox} error=${error} title="The file was not attached" />
  </form>`;
}

export function Attachments({ c, onDone }) {
  const rows = c.attachments || [];
  const columns = [
    { key: "name", label: "Name" },
    { key: "media_type", label: "Type" },
    { key: "bytes", label: "Size", className: "num", render: (a) => bytes(a.bytes) },
    { key: "sha256", label: "SHA-256", render: (a) => html`<code title=${a.sha256}>${short(a.sha256, 16)}</code>` },
    { key: "dl", label: "Download", render: (a) => html`<${DownloadButton}
        path=${`/api/v1/cases/${seg(c.id)}/attachments/${seg(a.attachment_id)}`}
        name=${a.name} label=${`Download ${a.name}`} />` },
  ];
  return html`${rows.length ? html`<${Table} caption="Attachments" columns=${columns} rows=${rows}
      rowKey=${(a) => a.attachment_id} />` : html`<${Empty}>No attachments.<//>`}
    ${can("cases:work") ? html`<${Upload} c=${c} onDone=${onDone} />` : null}`;
}
