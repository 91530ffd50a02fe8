// `#/evaluations/new`: evaluate a context and an input (POST /api/v1/evaluate), then show
// the new evaluation. JSON is checked here first so that a typo is pointed at before sending.
import { useState } from "preact/hooks";
import { html } from "../../html.js";
import { post } from "../../api.js";
import { navigate, seg } from "../../router.js";
import { can } from "../../session.js";
import { ErrorBox, Field, Page } from "../../ui.js";

const CONTEXT = { jurisdiction: "US", domain: "AML", timestamp: new Date().toISOString().slice(0, 19) + "Z" };
const INPUT = { transaction: { id: "t1", amount: 15000, currency: "USD", type: "cash" } };

/** Parse `text` as a JSON object: {value} or {error} with the position when known. */
export function checkJson(text, what) {
  if (!text.trim()) return { error: `${what} is empty: write a JSON object` };
  try {
    const value = JSON.parse(text);
    if (value === null || typeof value !== "object" || Array.isArray(value)) {
      return { error: `${what} must be a JSON object ({...})` };
    }
    return { value };
  } catch (exc) {
    const pos = /position (\d+)/.exec(exc.message);
    let where = "";
    if (pos) {
      const before = text.slice(0, Number(pos[1])).split("\n");
      where = ` (line ${before.length}, column ${before.at(-1).length + 1})`;
    }
    return { error: `${what} is not valid JSON${where}: ${exc.message}` };
  }
}

export function EvaluateForm() {
  const [context, setContext] = useState(JSON.stringify(CONTEXT, null, 2));
  const [input, setInput] = useState(JSON.stringify(INPUT, null, 2));
  const [trace, setTrace] = useState("basic");
  const [idem, setIdem] = useState("");
  const [problems, setProblems] = useState({});
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  if (!can("evaluations:create")) {
    return html`<${Page} title="New evaluation"><p role="alert">Your roles do not grant${" "}
      <code>evaluations:create</code>, which evaluating needs.</p><//>`;
  }
  const submit = async (e) => {
    e.preventDefault();
    const c = checkJson(context, "Context");
    const i = checkJson(input, "Input");
    setProblems({ context: c.error, input: i.error });
    setError(null);
    if (c.error || i.error) {
      document.getElementById(c.error ? "ev-context" : "ev-input")?.focus();
      return;
    }
    const options = { trace };
    if (idem.trim()) options.idempotency_key = idem.trim();
    setBusy(true);
    try {
      const rec = await post("/api/v1/evaluate", { context: c.value, input: i.value, options });
      navigate(`/evaluations/${seg(rec.evaluation_id)}`);
    } catch (exc) {
      setError(exc);
      setBusy(false);
    }
  };
  const area = (id, label, value, set, key, hint) => html`<${Field} id=${id} label=${label} hint=${hint}>
    <textarea id=${id} rows="10" spellcheck="false" value=${value}
      aria-invalid=${problems[key] ? "true" : undefined}
      aria-describedby=${problems[key] ? `${id}-err` : undefined}
      onInput=${(e) => { set(e.currentTarget.value); setProblems({ ...problems, [key]: undefined }); }}>
    </textarea>
    ${problems[key] ? html`<p id=${`${id}-err`} class="field-error" role="alert">${problems[key]}</p>` : null}
  <//>`;
  return html`<${Page} title="New evaluation">
    <p class="muted"><a href="#/evaluations">← Evaluations</a></p>
    <form class="eval-form" onSubmit=${submit} aria-busy=${busy}>
      ${area("ev-context", "Context (JSON)", context, setContext, "context",
             "jurisdiction, domain, timestamp (RFC 3339; the time received when left out), ruleset (name or name@range)")}
      ${area("ev-input", "Input (JSON)", input, setInput, "input",
             "The data the rules read, e.g. transaction, customer")}
      <fieldset>
        <legend>Trace</legend>
        <label><input type="radio" name="ev-trace" value="basic" checked=${trace === "basic"}
          onChange=${() => setTrace("basic")} /> Basic: conditions, triggers and actions</label>
        <label><input type="radio" name="ev-trace" value="full" checked=${trace === "full"}
          onChange=${() => setTrace("full")} /> Full: every instruction as well</label>
      </fieldset>
      <${Field} id="ev-idem" label="Idempotency key (optional)"
          hint="The same key with the same request returns the stored evaluation">
        <input id="ev-idem" type="text" maxlength="256" value=${idem}
          onInput=${(e) => setIdem(e.currentTarget.value)} /><//>
      <${ErrorBox} error=${error} title="The evaluation was refused" />
      <button type="submit" class="primary" disabled=${busy}>${busy ? "Evaluating…" : "Evaluate"}</button>
    </form>
  <//>`;
}
