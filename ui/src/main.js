// ARKA Engine dashboard: the shell (sign-in, navigation, theme) and the route table.
import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { configure, whenSignedOut } from "./api.js";
import { html } from "./html.js";
import { useRoute } from "./router.js";
import { can, me, resume, signOut } from "./session.js";
import { useSignal } from "./signal.js";
import { Page } from "./ui.js";
import { SignIn } from "./pages/signin.js";
import { Overview } from "./pages/overview.js";
import { RulesPage } from "./pages/rules.js";
import { EvaluationsPage } from "./pages/evaluations.js";
import { CasesPage } from "./pages/cases.js";
import { ScreeningPage } from "./pages/screening.js";
import "./style.css";

// Each section: the first path segment, its label, the permission that shows it.
const SECTIONS = [
  { id: "", label: "Overview", page: Overview, needs: null },
  { id: "rules", label: "Rules", page: RulesPage, needs: "rules:read" },
  { id: "evaluations", label: "Evaluations", page: EvaluationsPage, needs: "evaluations:read" },
  { id: "cases", label: "Cases", page: CasesPage, needs: "cases:read" },
  { id: "screening", label: "Screening", page: ScreeningPage, needs: "screening:read" },
];

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
  else body = html`<${section.page} route=${route} />`;
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
