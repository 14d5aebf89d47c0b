// Charts as inline SVG built with DOM calls (no library): partition load as horizontal bars, and a
// timeline of jobs. Colours come from jobs.css classes; every chart has a text alternative.
import { el } from "./dom.js";

const SVG = "http://www.w3.org/2000/svg";

export function svg(tag, attributes = {}, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value !== undefined && value !== null) node.setAttribute(name, String(value));
  }
  for (const child of children.flat()) {
    if (child !== undefined && child !== null) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function chart(width, height, label, ...children) {
  return svg("svg", { viewBox: `0 0 ${width} ${height}`, width: "100%", role: "img", "aria-label": label,
    preserveAspectRatio: "xMinYMin meet", class: "chart-svg" }, svg("title", {}, label), ...children);
}

// [{name, allocated, idle, unavailable}] -> bars of CPUs, allocated | idle | unavailable, with a legend.
export function loadBars(rows) {
  const width = 600, label = 110, barHeight = 22, gap = 14, top = 30, value = 64;
  const height = top + rows.length * (barHeight + gap);
  const span = width - label - value;
  const legend = [["bar-allocated", "allocated"], ["bar-idle", "idle"], ["bar-unavailable", "unavailable"]];
  const description = rows.map((row) => `${row.name}: ${row.allocated} allocated, ${row.idle} idle` +
    (row.unavailable ? `, ${row.unavailable} unavailable` : "") + " CPUs").join("; ");
  return chart(width, height, `CPUs per partition. ${description}`,
    legend.map(([kind, text], index) => svg("g", { transform: `translate(${label + index * 110}, 6)` },
      svg("rect", { width: 12, height: 12, class: kind }), svg("text", { x: 18, y: 11, class: "chart-text" }, text))),
    rows.map((row, index) => {
      const total = row.allocated + row.idle + row.unavailable || 1;
      const y = top + index * (barHeight + gap);
      let x = label;
      const parts = [["bar-allocated", row.allocated], ["bar-idle", row.idle], ["bar-unavailable", row.unavailable]]
        .filter(([, value]) => value > 0).map(([kind, value]) => {
          const part = svg("rect", { x, y, width: (value / total) * span, height: barHeight, class: kind },
            svg("title", {}, `${row.name}: ${value} ${kind.slice(4)} CPUs`));
          x += (value / total) * span;
          return part;
        });
      return svg("g", { class: "chart-row" },
        svg("text", { x: 0, y: y + barHeight * 0.7, class: "chart-text chart-label" }, row.name),
        parts,
        svg("text", { x: width - 8, y: y + barHeight * 0.7, "text-anchor": "end", class: "chart-text chart-value" },
          `${row.allocated}/${row.allocated + row.idle + row.unavailable}`));
    }));
}

const HOUR = 3600000;

// Grid lines at whole hours or days, about eight of them, between `from` and `to`.
function ticks(from, to) {
  const steps = [HOUR, 3 * HOUR, 6 * HOUR, 12 * HOUR, 24 * HOUR];
  const step = steps.find((candidate) => (to - from) / candidate <= 8) || 24 * HOUR;
  const first = new Date(from);
  if (step >= 24 * HOUR) first.setHours(0, 0, 0, 0); else first.setMinutes(0, 0, 0);
  const found = [];
  for (let tick = first.getTime() + step; tick < to; tick += step) found.push(new Date(tick));
  return { found, daily: step >= 24 * HOUR };
}

// [{jobid, name, state, start: Date, end: Date}] -> one lane per job between `from` and `to` (Dates).
export function timeline(jobs, from, to) {
  const width = 600, label = 70, lane = 14, top = 8, axis = 22;
  const height = top + jobs.length * lane + axis;
  const span = width - label - 10;
  const at = (date) => label + ((Math.min(Math.max(date, from), to) - from) / (to - from)) * span;
  const { found, daily } = ticks(from, to);
  const tickLabel = (date) => (daily ? date.toLocaleDateString(undefined, { weekday: "short", day: "numeric" })
    : date.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" }));
  return chart(width, height, `Timeline of ${jobs.length} jobs from ${from.toLocaleString()} to ${to.toLocaleString()}`,
    found.map((tick) => svg("g", {},
      svg("line", { x1: at(tick), x2: at(tick), y1: top, y2: height - axis + 4, class: "chart-grid" }),
      svg("text", { x: at(tick), y: height - 6, "text-anchor": "middle", class: "chart-text chart-axis" }, tickLabel(tick)))),
    jobs.map((job, index) => {
      const y = top + index * lane;
      const x = at(job.start);
      return svg("g", {},
        svg("text", { x: 0, y: y + lane * 0.75, class: "chart-text chart-small" }, job.jobid),
        svg("rect", { x, y: y + 2, width: Math.max(2, at(job.end) - x), height: lane - 4,
          class: `span-${job.state.split(" ")[0]}` },
        svg("title", {}, `${job.jobid} ${job.name}: ${job.state}, ${job.start.toLocaleString()} – ${job.end.toLocaleString()}`)));
    }));
}

export function chartNote(text) {
  return el("p", { class: "small text-body-secondary mb-0" }, text);
}
