// Charts: a small wrapper around Chart.js (only the bar chart's parts are registered, to
// keep the bundle small). `<${BarChart} data label horizontal stacked />` draws a canvas
// with role="img" and `label` as its accessible name; its text and grid follow the theme
// (`<html data-theme>`), and the chart is destroyed when the component unmounts.
// Chart.js draws on a canvas and needs no eval, so the dashboard's CSP allows it.
import { BarController, BarElement, CategoryScale, Chart, Legend, LinearScale, Tooltip }
  from "chart.js";
import { useEffect, useRef } from "preact/hooks";
import { html } from "./html.js";

Chart.register(BarController, BarElement, CategoryScale, LinearScale, Tooltip, Legend);

/** The theme's colours, read from style.css's variables. */
export function palette() {
  const css = getComputedStyle(document.documentElement);
  const v = (name, fallback) => css.getPropertyValue(name).trim() || fallback;
  return { text: v("--text", "#1b1f24"), muted: v("--muted", "#57606a"),
           border: v("--border", "#d0d7de"), panel: v("--panel", "#ffffff") };
}

function optionsFor({ horizontal, stacked, legend, onClick, integer = true }, p) {
  const value = { beginAtZero: true, stacked, grid: { color: p.border },
                  border: { color: p.border },
                  ticks: { color: p.muted, precision: integer ? 0 : undefined } };
  const category = { stacked, grid: { display: false }, border: { color: p.border },
                     ticks: { color: p.muted, autoSkip: true, maxRotation: 0 } };
  return {
    indexAxis: horizontal ? "y" : "x",
    responsive: true,
    maintainAspectRatio: false,
    animation: false,
    scales: horizontal ? { x: value, y: category } : { x: category, y: value },
    plugins: {
      legend: { display: !!legend, position: "bottom", labels: { color: p.text, boxWidth: 14 } },
      tooltip: { backgroundColor: p.panel, titleColor: p.text, bodyColor: p.text,
                 borderColor: p.border, borderWidth: 1 },
    },
    onClick: onClick ? (_evt, elements) => elements.length && onClick(elements[0].index)
      : undefined,
    onHover: onClick ? (evt, elements) => {
      if (evt.native?.target) evt.native.target.style.cursor = elements.length ? "pointer" : "";
    } : undefined,
  };
}

/** Each bar outlined in the panel's colour, so that stacked segments stay apart. */
function themed(data, p) {
  return { ...data, datasets: data.datasets.map((d) => ({ borderColor: p.panel, borderWidth: 1,
                                                            ...d })) };
}

/** Call `fn` whenever `<html data-theme>` changes; returns the unsubscribe. */
export function onThemeChange(fn) {
  const obs = new MutationObserver(fn);
  obs.observe(document.documentElement, { attributes: true, attributeFilter: ["data-theme"] });
  return () => obs.disconnect();
}

/**
 * A bar chart. `data`: Chart.js data ({labels, datasets}); `label`: the sentence that
 * says what the chart shows (its accessible name); `horizontal`, `stacked`, `legend`;
 * `onClick(index)` for a bar; `height` in pixels (otherwise the `.chart` class's).
 */
export function BarChart({ data, label, horizontal = false, stacked = false, legend = false,
                           onClick, height, className = "" }) {
  const canvas = useRef(null);
  const chart = useRef(null);
  const props = useRef(null);
  const shown = useRef(null); // the `data` the chart was last given
  props.current = { horizontal, stacked, legend, onClick };

  useEffect(() => {
    const p = palette();
    shown.current = data;
    chart.current = new Chart(canvas.current, { type: "bar", data: themed(data, p),
                                                options: optionsFor(props.current, p) });
    const off = onThemeChange(() => {
      const c = chart.current;
      if (!c) return;
      const q = palette();
      c.data = themed(c.data, q);
      for (const d of c.data.datasets) d.borderColor = q.panel;
      c.options = optionsFor(props.current, q);
      c.update("none");
    });
    return () => {
      off();
      chart.current?.destroy();
      chart.current = null;
    };
  }, []);

  useEffect(() => {
    const c = chart.current;
    if (!c || shown.current === data) return;
    shown.current = data;
    const p = palette();
    c.data = themed(data, p);
    c.options = optionsFor(props.current, p);
    c.update("none");
  }, [data]);

  const cls = ["chart", className].filter(Boolean).join(" ");
  return html`<div class=${cls} style=${height ? { height: `${height}px` } : undefined}><canvas ref=${canvas}
    role="img" aria-label=${label}></canvas></div>`;
}
