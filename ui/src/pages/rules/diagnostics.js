// Diagnostics of a rule source as the API gives them, and their list under the editor:
// each item names its line and column and moves the editor's cursor there.
import { html } from "../../html.js";

/** Diagnostics from an API answer: a 400's `error.details` ({path, line, column, code,
 * message}) or a validation's `warnings` ({code, severity, file, line, column, message}).
 * W_ codes are warnings, everything else errors. */
export function diagnosticsOf(items = []) {
  return items.map((d) => ({
    line: Number(d.line) || 0,
    column: Number(d.column) || 0,
    code: d.code || "",
    message: d.message || "",
    path: d.path || d.file || "",
    severity: d.severity || (String(d.code || "").startsWith("W_") ? "warning" : "error"),
  })).sort((a, b) => a.line - b.line || a.column - b.column);
}

export function where(d) {
  if (!d.line) return d.path ? `at ${d.path}` : "in the document";
  return `line ${d.line}, column ${d.column || 1}`;
}

/** `onPick(line, column)` moves the cursor; items without a line are plain text.
 * `bare`: only the list (inside a box that already says what it is). */
export function DiagnosticList({ items, onPick, title = "Problems", bare = false }) {
  if (!items.length) return null;
  const errors = items.filter((d) => d.severity === "error").length;
  const warnings = items.length - errors;
  const counts = [errors ? `${errors} error${errors === 1 ? "" : "s"}` : "",
                  warnings ? `${warnings} warning${warnings === 1 ? "" : "s"}` : ""]
    .filter(Boolean).join(", ");
  const heading = errors ? `${title}: ${counts}` : `Warnings: ${counts}`;
  const list = html`<ol aria-label=${bare ? heading : undefined}>
      ${items.map((d, i) => {
        const text = html`<span class=${`rules-sev ${d.severity}`}>${d.severity === "error" ? "Error" : "Warning"}</span>
          ${" "}<span class="rules-pos">${where(d)}</span>:
          ${d.code ? html` <code>${d.code}</code>` : null} ${d.message}`;
        return html`<li key=${i}>${d.line
          ? html`<button type="button" class="rules-diag-link" onClick=${() => onPick(d.line, d.column)}>${text}</button>`
          : text}</li>`;
      })}
    </ol>`;
  if (bare) return html`<div class="rules-diagnostics bare">${list}</div>`;
  return html`<section class="rules-diagnostics" aria-labelledby="diagnostics-title">
    <h2 id="diagnostics-title">${heading}</h2>
    ${list}
  </section>`;
}
