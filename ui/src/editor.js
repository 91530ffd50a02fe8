// A CodeMirror 6 editor as a Preact component: YAML highlighting, line numbers, lint
// diagnostics at a line and column, and a read-only mode for viewing a stored source.
// The parent keeps the text (`value` / `onChange`); `editorRef.current` gets
// {focusAt(line, column), view} so a diagnostics list can move the cursor.
//
// The editor's own state is the truth while someone types: each keystroke goes out by
// `onChange`, and `value` coming back is only an echo of it. A `value` is written into the
// editor only when it differs from the document at the moment the parent renders (a layout
// effect, run in the same task as that render, so never against an older keystroke), and
// that write is marked as coming from outside, so it is not reported back by `onChange`.
// Without both, a value rendered one keystroke late would overwrite the newer text, be
// reported, be overwritten back, and so on for ever.
import { useEffect, useLayoutEffect, useRef } from "preact/hooks";
import { basicSetup, EditorView } from "codemirror";
import { Annotation, Compartment, EditorState } from "@codemirror/state";
import { syntaxHighlighting } from "@codemirror/language";
import { classHighlighter } from "@lezer/highlight";
import { yaml } from "@codemirror/lang-yaml";
import { lintGutter, setDiagnostics } from "@codemirror/lint";
import { html } from "./html.js";

/** The document offset of a 1-based line and column, clamped into the document (the
 * server counts columns in characters from 1; a position past a line's end is its end). */
export function positionOf(doc, line, column = 1) {
  if (!line || line < 1) return 0;
  if (line > doc.lines) return doc.length;
  const l = doc.line(line);
  return Math.min(l.from + Math.max((column || 1) - 1, 0), l.to);
}

/** API diagnostics ({line, column, code, message, severity?}) as CodeMirror ones: each
 * marks from its position to the end of the word there (at least one character). */
export function toCmDiagnostics(doc, items) {
  return items.filter((d) => d.line > 0).map((d) => {
    const from = positionOf(doc, d.line, d.column);
    const lineEnd = doc.lineAt(from).to;
    const rest = doc.sliceString(from, lineEnd);
    const word = /^[\w.$@-]+/.exec(rest);
    const to = Math.min(lineEnd, from + (word ? word[0].length : 1));
    const severity = d.severity || (String(d.code).startsWith("W_") ? "warning" : "error");
    return { from, to: Math.max(to, from), severity,
             message: d.code ? `${d.code}: ${d.message}` : d.message, source: "ARKA" };
  });
}

/** Marks a transaction that writes the parent's `value` (not to be reported back). */
const fromOutside = Annotation.define();

function editability(readOnly) {
  return [EditorState.readOnly.of(readOnly), EditorView.editable.of(!readOnly),
          // A read-only view is not contenteditable; keep it reachable by keyboard so its
          // text can be scrolled and selected.
          EditorView.contentAttributes.of(readOnly ? { tabindex: "0" } : {})];
}

export function Editor({ value = "", onChange, readOnly = false, diagnostics = [],
                         label = "Rule source", editorRef, describedBy }) {
  const host = useRef(null);
  const view = useRef(null);
  const changed = useRef(onChange);
  const editable = useRef(new Compartment());
  changed.current = onChange;

  useLayoutEffect(() => {
    const attrs = { "aria-label": label };
    if (describedBy) attrs["aria-describedby"] = describedBy;
    view.current = new EditorView({
      parent: host.current,
      state: EditorState.create({
        doc: value,
        extensions: [
          basicSetup,
          yaml(),
          syntaxHighlighting(classHighlighter), // colours from style.css, per theme
          lintGutter(),
          EditorView.lineWrapping,
          EditorView.contentAttributes.of(attrs),
          editable.current.of(editability(readOnly)),
          EditorView.updateListener.of((u) => {
            if (!u.docChanged) return;
            if (u.transactions.some((t) => t.annotation(fromOutside))) return;
            changed.current?.(u.state.doc.toString());
          }),
        ],
      }),
    });
    if (editorRef) {
      editorRef.current = {
        view: view.current,
        focusAt(line, column) {
          const v = view.current;
          const pos = positionOf(v.state.doc, line, column);
          v.dispatch({ selection: { anchor: pos }, effects: EditorView.scrollIntoView(pos, { y: "center" }) });
          v.focus();
        },
      };
    }
    return () => {
      view.current.destroy();
      view.current = null;
      if (editorRef) editorRef.current = null;
    };
  }, []);

  // A new value from outside (a loaded version, a reset): replace the text. An echo of
  // what was typed equals the document and changes nothing.
  useLayoutEffect(() => {
    const v = view.current;
    if (v && v.state.doc.toString() !== value) {
      v.dispatch({ changes: { from: 0, to: v.state.doc.length, insert: value },
                   annotations: fromOutside.of(true) });
    }
  }, [value]);

  useEffect(() => {
    view.current?.dispatch({ effects: editable.current.reconfigure(editability(readOnly)) });
  }, [readOnly]);

  useEffect(() => {
    const v = view.current;
    if (v) v.dispatch(setDiagnostics(v.state, toCmDiagnostics(v.state.doc, diagnostics)));
  }, [diagnostics]);

  return html`<div class="rule-editor" ref=${host}></div>`;
}
