// ARKA Engine dashboard: the shell (sign-in, navigation, theme) and the route table.
import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { configure, whenSignedOut } from "./api.js";
import { html } from "./html.js";
import { useRoute } from "./router.js";
import { can, me, resume, signOut } from "./session.js";
import { useSignal } from "./signal.js";
import { ErrorBox, Loading, Page } from "./ui.js";
import { SignIn } from "./pages/signin.js";
import "./style.css";

// Each section: the first path segment, its label, the permission that shows it, and its
// page, loaded when first opened (the editor and the charts are large and only some
// sections need them).
const SECTIONS = [
  { id: "", label: "Overview", needs: null,
    load: () => import("./pages/overview.js").then((m) => m.Overview) },
  { id: "rules", label: "Rules", needs: "rules:read",
    load: () => import("./pages/rules.js").then((m) => m.RulesPage) },
  { id: "evaluations", label: "Evaluations", needs: "evaluations:read",
    load: () => import("./pages/evaluations.js").then((m) => m.EvaluationsPage) },
  { id: "cases", label: "Cases", needs: "cases:read",
    load: () => import("./pages/cases.js").then((m) => m.CasesPage) },
  { id: "screening", label: "Screening", needs: "screening:read",
    load: () => import("./pages/screening.js").then((m) => m.ScreeningPage) },
];
const loaded = new Map(); // section id -> its page component

/** A section's page, loaded on first use (then kept). */
function Section({ section, route }) {
  const [page, setPage] = useState(() => loaded.get(section.id) || null);
  const [error, setError] = useState(null);
  useEffect(() => {
    if (page) return undefined;
    let live = true;
    section.load().then((component) => {
      loaded.set(section.id, component);
      if (live) setPage(() => component);
    }, (exc) => live && setError(exc));
    return () => { live = false; };
  }, [section.id]);
  useEffect(() => {  // loaded: the heading takes the focus as on navigation, unless the
    // user has moved it elsewhere meanwhile (only from the page itself or the menu)
    const at = document.activeElement;
    if (page && (!at || at === document.body || at.closest("nav[aria-label='Main'], main"))) {
      document.getElementById("page-title")?.focus({ preventScroll: true });
    }
  }, [page]);
  if (error) {
    return html`<${Page} title=${section.label}><${ErrorBox} title="This page could not be loaded"
      error=${{ code: "LOAD_ERROR", message: `${error.message || error} (reload the page to try again)` }} /><//>`;
  }
  if (!page) return html`<${Loading} what=${`Loading ${section.label}`} />`;
  return html`<${page} route=${route} />`;
}

function theme() {
  return localStorage.getItem("arka.theme") ||
    (matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light");
}

function ThemeToggle() {
  const [t, setT] = useState(theme());
  useEffect(() => {
    document.documentElement.dataset.theme = t;
  }, [t]);
  const next = t === "dark" ? "light" : "dark";
  return html`<button type="button" class="ghost" aria-label=${`Switch to ${next} theme`}
    onClick=${() => { localStorage.setItem("arka.theme", next); setT(next); }}>
    ${t === "dark" ? "☀ Light" : "☾ Dark"}</button>`;
}

function Shell() {
  const who = useSignal(me);
  const route = useRoute();
  const section = SECTIONS.find((s) => s.id === (route.parts[0] || "")) || null;
  useEffect(() => {
    document.getElementById("page-title")?.focus({ preventScroll: true });
  }, [route.path]);
  if (!who) return html`<${SignIn} />`;
  const visible = SECTIONS.filter((s) => !s.needs || can(s.needs));
  let body;
  if (!section) body = html`<${Page} title="Not found"><p role="alert">No such page:${" "}
    <code>${route.path}</code>. <a href="#/">Back to the overview</a></p><//>`;
  else if (section.needs && !can(section.needs)) body = html`<${Page} title=${section.label}>
    <p role="alert">Your roles (${who.roles.join(", ")}) do not grant${" "}
    <code>${section.needs}</code>, which this page needs.</p><//>`;
  else body = html`<${Section} key=${section.id} section=${section} route=${route} />`;
  return html`<a class="skip" href="#main" onClick=${(e) => { e.preventDefault();
      document.getElementById("main")?.focus(); }}>Skip to content</a>
    <header class="top">
      <a class="brand" href="#/">ARKA Engine</a>
      <nav aria-label="Main"><ul>
        ${visible.map((s) => html`<li><a href=${`#/${s.id}`}
          aria-current=${section === s ? "page" : undefined}>${s.label}</a></li>`)}
      </ul></nav>
      <div class="who">
        <span class="muted small" title=${who.subject}>${who.tenant} · ${who.roles.join(", ")}</span>
        <${ThemeToggle} />
        <button type="button" class="ghost" onClick=${() => signOut()}>Sign out</button>
      </div>
    </header>
    <main id="main" tabindex="-1">${body}</main>`;
}

async function start() {
  document.documentElement.dataset.theme = theme();
  await configure();
  whenSignedOut(signOut);
  await resume();
  render(html`<${Shell} />`, document.getElementById("app"));
}

start();
