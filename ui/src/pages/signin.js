// Sign-in with an API key or a JWT. The credential is checked with GET /api/v1/me.
import { useState } from "preact/hooks";
import { baseUrl } from "../api.js";
import { html } from "../html.js";
import { resumeError, signIn } from "../session.js";
import { useSignal } from "../signal.js";
import { ErrorBox, Field } from "../ui.js";

export function SignIn() {
  const [kind, setKind] = useState("api_key");
  const [value, setValue] = useState("");
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const lost = useSignal(resumeError);
  const submit = async (e) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await signIn(kind, value.trim());
    } catch (exc) {
      setError(exc);
    } finally {
      setBusy(false);
    }
  };
  return html`<main id="main" class="signin">
    <form onSubmit=${submit} aria-labelledby="signin-title">
      <h1 id="signin-title">Sign in to ARKA Engine</h1>
      <p class="muted small">API: ${baseUrl() || location.origin}</p>
      <fieldset>
        <legend>Credential</legend>
        <label><input type="radio" name="kind" value="api_key" checked=${kind === "api_key"}
          onChange=${() => setKind("api_key")} /> API key</label>
        <label><input type="radio" name="kind" value="jwt" checked=${kind === "jwt"}
          onChange=${() => setKind("jwt")} /> JWT (bearer token)</label>
      </fieldset>
      <${Field} id="credential" label=${kind === "jwt" ? "Token" : "API key"}
        hint="Kept only in this tab, and sent only to the API above.">
        <input id="credential" type="password" autocomplete="off" required
          value=${value} onInput=${(e) => setValue(e.currentTarget.value)} />
      <//>
      <${ErrorBox} error=${error || lost} title=${error ? "Not signed in" : "Signed out"} />
      <button type="submit" class="primary" disabled=${busy || !value.trim()}>
        ${busy ? "Signing in…" : "Sign in"}</button>
    </form>
  </main>`;
}
