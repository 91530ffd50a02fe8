// The answer of `POST /api/v1/screen`, readably: each match with its score and *why*
// (which query part met which listed value, how, and what it added), what the allowlist
// skipped, decisions a list update reopened, and the list versions screened.
import { html } from "../../html.js";
import { href, seg } from "../../router.js";
import { can } from "../../session.js";
import { Badge, Empty, short, when } from "../../ui.js";
import { describeFeature, percent, signed } from "./model.js";

function Explanation({ m, idx }) {
  const rows = m.explanation || [];
  if (!rows.length) return html`<p class="muted small">No explanation given.</p>`;
  return html`<div class="table-wrap"><table class="screen-explain">
    <caption>Why ${m.caption || m.entity_id} scored ${m.score}</caption>
    <thead><tr><th scope="col">Aspect</th><th scope="col">Query</th><th scope="col">Listed</th>
      <th scope="col">How</th><th scope="col" class="num">Contribution</th></tr></thead>
    <tbody>${rows.map((r, i) => {
      const d = describeFeature(r.feature);
      const c = Number(r.contribution);
      return html`<tr key=${`${idx}-${i}`}>
        <td>${d.aspect}</td>
        <td>${r.query != null ? html`<code>${r.query}</code>` : html`<span class="muted">—</span>`}</td>
        <td>${r.candidate != null ? html`<code>${r.candidate}</code>` : html`<span class="muted">—</span>`}</td>
        <td>${d.how} <span class="muted small">(${r.feature})</span></td>
        <td class=${`num ${c > 0 ? "contrib-up" : c < 0 ? "contrib-down" : ""}`}>${signed(r.contribution)}</td>
      </tr>`;
    })}</tbody>
    <tfoot><tr><th scope="row" colspan="4">Score (the sum)</th>
      <td class="num"><strong>${m.score}</strong></td></tr></tfoot>
  </table></div>`;
}

function Facts({ m }) {
  const items = [
    ["Entity id", html`<code>${m.entity_id}</code>`],
    ["Type", m.schema],
    ["On lists", (m.datasets || []).join(", ") || "—"],
    ["Sources", (m.sources || []).join(", ") || "—"],
    ["Topics", (m.topics || []).join(", ") || "—"],
    ["Countries", (m.countries || []).join(", ") || "—"],
    ["Birth dates", (m.birth_dates || []).join(", ") || "—"],
    ["Entity hash", html`<code title=${m.entity_hash}>${short(m.entity_hash, 20)}</code>`],
  ];
  return html`<dl class="screen-facts">${items.map(([k, v]) => html`<div><dt>${k}</dt><dd>${v}</dd></div>`)}</dl>`;
}

function Match({ m, idx, subject }) {
  const record = href("/screening/allowlist/new", { subject_id: subject, entity_id: m.entity_id });
  return html`<article class="panel screen-match" aria-labelledby=${`match-${idx}`}>
    <h3 id=${`match-${idx}`}>${m.caption || m.entity_id}
      <span class="screen-score"> — score ${m.score} (${percent(m.score)})</span></h3>
    <${Facts} m=${m} />
    <${Explanation} m=${m} idx=${idx} />
    ${can("screening:write") ? html`<p><a class="button" href=${record}>Record a false
      positive for ${m.caption || m.entity_id}</a>${subject ? null : html` <span class="muted
      small">(you will be asked for the customer id)</span>`}</p>` : null}
  </article>`;
}

function Skipped({ items }) {
  if (!items?.length) return null;
  return html`<h3>Skipped by allowlist decisions</h3>
    <ul class="screen-skipped">${items.map((a) => html`<li key=${a.allowlist_id}>
      <code>${a.entity_id}</code> (score ${a.score}): decision${" "}
      <a href=${href(`/screening/allowlist/${seg(a.allowlist_id)}`)}><code>${a.allowlist_id}</code></a>${" "}
      by ${a.decided_by}${a.decided_at ? ` on ${when(a.decided_at)}` : ""}: <q>${a.reason}</q></li>`)}
    </ul>`;
}

function Reopened({ items }) {
  if (!items?.length) return null;
  return html`<div class="panel screen-reopened" role="note" aria-label="Reopened decisions">
    <strong>Decisions that no longer apply</strong> (the listed entity changed since):
    <ul>${items.map((r, i) => html`<li key=${i}>${r.allowlist_id ? html`<a
        href=${href(`/screening/allowlist/${seg(r.allowlist_id)}`)}><code>${r.allowlist_id}</code></a>`
      : null} <code>${r.entity_id || ""}</code>${r.reason ? `: ${r.reason}` : ""}</li>`)}</ul>
  </div>`;
}

function Lists({ result }) {
  const ds = result.data_version?.datasets || [];
  return html`<p class="muted small">Screened with plugin ${result.plugin_version || "—"}${" "}
    against ${ds.length ? ds.map((d, i) => html`${i ? ", " : ""}<strong>${d.name}</strong>${" "}
      (${d.records} records, version <code title=${d.version}>${short(d.version, 16)}</code>)`) : "no list"}.</p>`;
}

export function ScreenResults({ result, subject }) {
  const q = result.query || {};
  const customer = q.subject_id || subject || "";
  const matches = result.matches || [];
  const summary = matches.length
    ? `${matches.length} match${matches.length === 1 ? "" : "es"} for “${q.name}”, best score ${result.score}`
    : `No match for “${q.name}”`;
  return html`<div class="screen-summary">
      <h2 id="screen-summary" class="screen-summary-h" tabindex="-1"><${Badge}
        value=${matches.length ? "match" : "no match"} tone=${matches.length ? "bad" : "good"} />
        ${" "}${summary}</h2>
      <p class="muted small">As ${q.schema}, topics ${(q.topics || []).join(", ")},
        threshold ${q.threshold}${q.birth_date ? `, born ${q.birth_date}` : ""}${q.countries?.length
          ? `, countries ${q.countries.join(", ")}` : ""}${customer ? `, customer ${customer}` : ""}.</p>
    </div>
    <${Reopened} items=${result.reopened} />
    ${matches.length ? matches.map((m, i) => html`<${Match} key=${m.entity_id} m=${m} idx=${i}
        subject=${customer} />`)
      : html`<${Empty}>No listed entity scores ${q.threshold} or more for this query${result.allowlisted?.length
        ? " once the allowlist decisions are applied" : ""}.<//>`}
    <${Skipped} items=${result.allowlisted} />
    <${Lists} result=${result} />`;
}
