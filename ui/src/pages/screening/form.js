// `#/screening`: screen a name against the sanctions lists (`POST /api/v1/screen`,
// screening:run). The query stays in this tab's memory, not in the URL: names of
// customers do not belong in browser history or shared links.
import { useEffect, useRef, useState } from "preact/hooks";
import { html } from "../../html.js";
import { post } from "../../api.js";
import { ErrorBox, Field, Loading } from "../../ui.js";
import { ScreenResults } from "./results.js";
import { COMMON_TOPICS, SCHEMATA, screenBody } from "./model.js";

const BLANK = { name: "", schema: "Person", birth_date: "", countries: "", topics: [],
  other_topics: "", threshold: "0.8", limit: "10", subject_id: "" };
// Kept while the tab lives, so that going to the allowlist and back keeps the answer.
let last = { form: BLANK, result: null };

export function ScreenForm() {
  const [f, setF] = useState(last.form);
  const [result, setResult] = useState(last.result);
  const [subject, setSubject] = useState(last.subject || "");
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  // After an answer, the focus goes to its summary: a screen reader reads it, and the
  // results (below a long form) scroll into view.
  const answered = useRef(false);
  useEffect(() => {
    if (!answered.current || !result) return;
    answered.current = false;
    const h = document.getElementById("screen-summary");
    h?.scrollIntoView({ block: "start" });
    h?.focus({ preventScroll: true });
  }, [result]);
  const set = (k) => (e) => setF({ ...f, [k]: e.currentTarget.value });
  const toggle = (t) => setF({ ...f, topics: f.topics.includes(t)
    ? f.topics.filter((x) => x !== t) : [...f.topics, t] });
  const submit = async (e) => {
    e.preventDefault();
    setBusy(true); setError(null);
    try {
      const r = await post("/api/v1/screen", screenBody(f));
      answered.current = true;
      setResult(r); setSubject(f.subject_id.trim());
      last = { form: f, result: r, subject: f.subject_id.trim() };
    } catch (exc) {
      setError(exc); setResult(null);
      last = { form: f, result: null };
    } finally {
      setBusy(false);
    }
  };
  const reset = () => { setF(BLANK); setResult(null); setError(null); last = { form: BLANK, result: null }; };
  return html`<form class="screen-form panel" aria-label="Screening query" onSubmit=${submit}>
      <div class="screen-grid">
        <${Field} id="sc-name" label="Name" hint="As your records hold it, in any script">
          <input id="sc-name" type="text" value=${f.name} onInput=${set("name")} required
            maxlength="500" autocomplete="off" /><//>
        <${Field} id="sc-schema" label="Type">
          <select id="sc-schema" value=${f.schema} onChange=${set("schema")}>
            ${SCHEMATA.map((s) => html`<option value=${s}>${s}</option>`)}
          </select><//>
        <${Field} id="sc-birth" label="Birth date" hint="YYYY, YYYY-MM or YYYY-MM-DD">
          <input id="sc-birth" type="text" value=${f.birth_date} onInput=${set("birth_date")}
            pattern="\\d{4}(-\\d{2}(-\\d{2})?)?" inputmode="numeric" maxlength="10" /><//>
        <${Field} id="sc-countries" label="Countries" hint="ISO codes, comma separated, e.g. ru, by">
          <input id="sc-countries" type="text" value=${f.countries} onInput=${set("countries")} /><//>
        <${Field} id="sc-threshold" label="Threshold" hint="Lowest score reported (0–1)">
          <input id="sc-threshold" type="number" min="0" max="1" step="0.01" value=${f.threshold}
            onInput=${set("threshold")} /><//>
        <${Field} id="sc-limit" label="Most matches">
          <input id="sc-limit" type="number" min="1" max="1000" step="1" value=${f.limit}
            onInput=${set("limit")} /><//>
        <${Field} id="sc-subject" label="Customer id" hint="Optional: applies the allowlist decisions of this customer">
          <input id="sc-subject" type="text" value=${f.subject_id} onInput=${set("subject_id")}
            maxlength="256" /><//>
      </div>
      <fieldset class="screen-topics">
        <legend>Topics</legend>
        <p class="muted small">None ticked: sanctions only. Topics match exactly: tick each risk you screen for.</p>
        ${COMMON_TOPICS.map((t) => html`<label class="check"><input type="checkbox"
          checked=${f.topics.includes(t.id)} onChange=${() => toggle(t.id)} /> ${t.label}</label>`)}
        <${Field} id="sc-topics" label="Other topics" hint="e.g. crime.fin, role.oligarch">
          <input id="sc-topics" type="text" value=${f.other_topics} onInput=${set("other_topics")} /><//>
      </fieldset>
      <div class="row">
        <button type="submit" class="primary" disabled=${busy}>Screen</button>
        <button type="button" onClick=${reset}>Clear</button>
      </div>
    </form>
    <section class="screen-results" aria-label="Screening results" aria-busy=${busy ? "true" : "false"}>
      ${busy ? html`<${Loading} what="Screening" />` : null}
      <${ErrorBox} error=${error} title="The screening failed" />
      ${result && !busy ? html`<${ScreenResults} result=${result} subject=${subject} />` : null}
      ${!result && !error && !busy ? html`<p class="muted">Results appear here.</p>` : null}
    </section>`;
}
