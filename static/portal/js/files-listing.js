// One directory's listing in the browser: fetched once, then sorted, filtered and paged here, so that a
// directory of 10,000 entries costs one request and only one page of rows in the document.
import { settings } from "./api.js";
import { el, formatBytes, formatTime } from "./dom.js";

const collator = new Intl.Collator(undefined, { numeric: true, sensitivity: "base" });
export const COLUMNS = [
  { key: "name", label: "Name" },
  { key: "size", label: "Size" },
  { key: "modified", label: "Modified" },
];

export class Listing {
  constructor(entries) {
    // Compared values once, not in every comparison of the sort.
    this.entries = entries.map((entry) => ({ ...entry, bytes: Number(entry.size) || 0,
      time: Date.parse(entry.last_modified) || 0, isDirectory: entry.type === "d" }));
    this.sortKey = "name";
    this.descending = false;
    this.showHidden = false;
    this.page = 1;
    this.refresh();
  }

  // Folders first, then the chosen order (ties by name).
  refresh() {
    const direction = this.descending ? -1 : 1;
    const byName = (a, b) => collator.compare(a.name, b.name);
    const byKey = { name: byName, size: (a, b) => a.bytes - b.bytes || byName(a, b),
      modified: (a, b) => a.time - b.time || byName(a, b) }[this.sortKey];
    this.shown = this.entries.filter((entry) => this.showHidden || !entry.name.startsWith("."))
      .sort((a, b) => (b.isDirectory - a.isDirectory) || direction * byKey(a, b));
    this.page = Math.min(this.page, this.pageCount);
  }

  sortBy(key) {
    this.descending = this.sortKey === key ? !this.descending : false;
    this.sortKey = key;
    this.page = 1;
    this.refresh();
  }

  get pageSize() { return settings.listingPageSize; }
  get pageCount() { return Math.max(1, Math.ceil(this.shown.length / this.pageSize)); }
  get pageEntries() { return this.shown.slice((this.page - 1) * this.pageSize, this.page * this.pageSize); }
}

function sortButton(listing, column, onSort) {
  const active = listing.sortKey === column.key;
  const order = active ? (listing.descending ? "descending" : "ascending") : "none";
  const arrow = active ? (listing.descending ? " ▼" : " ▲") : "";
  return el("th", { scope: "col", "aria-sort": order, class: column.key === "name" ? "" : "files-narrow-hide" },
    el("button", { type: "button", class: "btn btn-link btn-sm files-sort", dataset: { sort: column.key },
      onclick: () => onSort(column.key) }, column.label, el("span", { "aria-hidden": "true" }, arrow),
    el("span", { class: "visually-hidden" }, active ? `, sorted ${order}` : ", sort by this")));
}

// The table of the current page; `row(entry)` makes each entry's row (files.js adds links and actions).
export function listingTable(listing, row, onSort) {
  return el("table", { class: "table table-sm table-hover align-middle files-table" },
    el("caption", { class: "visually-hidden" }, "Files of this folder"),
    el("thead", {}, el("tr", {}, COLUMNS.map((column) => sortButton(listing, column, onSort)),
      el("th", { scope: "col", class: "files-narrow-hide" }, "Permissions"),
      el("th", { scope: "col" }, el("span", { class: "visually-hidden" }, "Actions")))),
    el("tbody", {}, listing.pageEntries.map(row)));
}

export function entryCells(entry, nameNode) {
  const kind = entry.isDirectory ? "folder" : entry.type === "l" ? "link" : "file";
  return [
    el("td", { class: "files-name" }, el("span", { class: `files-icon files-icon-${kind}`, "aria-hidden": "true" }),
      nameNode, entry.type === "l" && entry.link_target
        ? el("span", { class: "text-body-secondary small" }, ` → ${entry.link_target}`) : null),
    el("td", { class: "files-narrow-hide text-nowrap" }, entry.isDirectory ? "" : formatBytes(entry.bytes)),
    el("td", { class: "files-narrow-hide text-nowrap" }, formatTime(entry.last_modified)),
    el("td", { class: "files-narrow-hide mono" }, `${entry.type === "-" ? "-" : entry.type}${entry.permissions}`),
  ];
}

export function pager(listing, onPage) {
  if (listing.pageCount <= 1) {
    return el("p", { class: "text-body-secondary small mb-0" },
      `${listing.shown.length} ${listing.shown.length === 1 ? "entry" : "entries"}`);
  }
  const first = (listing.page - 1) * listing.pageSize + 1;
  const last = Math.min(listing.page * listing.pageSize, listing.shown.length);
  const go = (page) => () => onPage(page);
  const select = el("select", { class: "form-select form-select-sm files-page-select", id: "files-page",
    onchange: (event) => onPage(Number(event.target.value)) },
  Array.from({ length: listing.pageCount }, (_, index) => el("option",
    { value: index + 1, selected: index + 1 === listing.page }, `${index + 1}`)));
  return el("div", { class: "files-pager" },
    el("button", { type: "button", class: "btn btn-sm btn-outline-secondary", id: "files-previous",
      disabled: listing.page === 1, onclick: go(listing.page - 1) }, "Previous"),
    el("label", { for: "files-page", class: "small" }, "Page"), select,
    el("span", { class: "small" }, `of ${listing.pageCount}`),
    el("button", { type: "button", class: "btn btn-sm btn-outline-secondary", id: "files-next",
      disabled: listing.page === listing.pageCount, onclick: go(listing.page + 1) }, "Next"),
    el("span", { class: "small text-body-secondary", id: "files-range" },
      `entries ${first}–${last} of ${listing.shown.length}`));
}
