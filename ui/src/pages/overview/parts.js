// Pieces the Overview's sections share: the data table behind a chart, figures, a
// section frame.
import { html } from "../../html.js";

/** The numbers of a chart as a real table, folded away (a long one scrolls in a region
 * that the keyboard can reach). `head`: the column headers (the
 * first one heads the row headers); `rows`: [{key, head, cells}] (`head` and `cells` may
 * be markup). */
export function DataTable({ caption, head, rows }) {
  return html`<details class="ov-data">
    <summary>Data table</summary>
    <div class="table-wrap" tabindex="0" role="region" aria-label=${caption}><table>
      <caption>${caption}</caption>
      <thead><tr>${head.map((h, i) => html`<th scope="col" class=${i ? "num" : ""}>${h}</th>`)}</tr></thead>
      <tbody>${rows.map((r) => html`<tr key=${r.key}>
        <th scope="row">${r.head}</th>
        ${r.cells.map((c) => html`<td class="num">${c}</td>`)}
      </tr>`)}</tbody>
    </table></div>
  </details>`;
}

/** Figures as a description list: [{label, value, note?, swatch?}]. */
export function Figures({ items, label }) {
  return html`<dl class="ov-figures" aria-label=${label}>
    ${items.map((f) => html`<div class="ov-figure">
      <dt>${f.swatch ? html`<span class="ov-swatch" style=${{ background: f.swatch }}
        aria-hidden="true"></span>` : null}${f.label}</dt>
      <dd>${f.value}${f.note ? html`<small class="muted"> ${f.note}</small>` : null}</dd>
    </div>`)}
  </dl>`;
}

/** A section of the page: its h2, optional tools beside it, and its body. */
export function Section({ id, title, tools, busy, children }) {
  return html`<section class="panel ov-section" aria-labelledby=${id}
      aria-busy=${busy ? "true" : "false"}>
    <div class="ov-head"><h2 id=${id}>${title}</h2>${tools || null}</div>
    ${children}
  </section>`;
}
