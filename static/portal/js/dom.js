// Building the page: every text goes in as a text node, so a file name like <img onerror=...> is shown,
// never parsed. Formatting of sizes, times and states, once.

export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "class") node.className = value;
    else if (name === "dataset") Object.assign(node.dataset, value);
    else if (name.startsWith("on") && typeof value === "function") node.addEventListener(name.slice(2), value);
    else if (value === true) node.setAttribute(name, "");
    else node.setAttribute(name, String(value));
  }
  append(node, ...children);
  return node;
}

export function append(node, ...children) {
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function replace(node, ...children) {
  node.replaceChildren();
  return append(node, ...children);
}

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB"];

export function formatBytes(bytes) {
  let value = Number(bytes);
  if (!Number.isFinite(value)) return "";
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) { value /= 1024; unit += 1; }
  return `${unit === 0 ? value : value.toFixed(value < 10 ? 1 : 0)} ${UNITS[unit]}`;
}

export function formatTime(value) {
  if (!value || value === "N/A" || value === "Unknown" || value === "None") return "";
  const date = new Date(value.includes("T") || value.includes(" ") ? value.replace(" ", "T") : value);
  return Number.isNaN(date.getTime()) ? value : date.toLocaleString();
}

export function stateBadge(state) {
  const word = String(state || "").split(" ")[0];
  return el("span", { class: `state state-${word}` }, state || "");
}

// `narrowHidden`: the headings of the columns a narrow screen leaves out (their cells say so themselves,
// class hide-narrow, so that a row redrawn in place keeps it).
export function table(headings, rows, { caption, narrowHidden = [] } = {}) {
  return el("table", { class: "table table-sm table-hover align-middle" },
    caption ? el("caption", { class: "visually-hidden" }, caption) : null,
    el("thead", {}, el("tr", {}, headings.map((heading) => el("th",
      { scope: "col", class: narrowHidden.includes(heading) ? "hide-narrow" : undefined }, heading)))),
    el("tbody", {}, rows));
}

export function empty(message) {
  return el("p", { class: "text-body-secondary mb-2" }, message);
}
