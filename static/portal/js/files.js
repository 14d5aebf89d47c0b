// The files page: every filesystem of every system, one folder at a time (?system=&path= in the address,
// so back, reload and links work), with breadcrumbs, sorting, hidden files, pages, uploads and actions.
import { reportProblem, request, settings, showError } from "./api.js";
import { el, empty, replace } from "./dom.js";
import { actionsRow, joinPath } from "./files-actions.js";
import { entryCells, Listing, listingTable, pager } from "./files-listing.js";
import { uploadFiles } from "./upload.js";

const $ = (id) => document.getElementById(id);
const box = $("files-listing");
const errorBox = $("files-error");
const state = { system: null, path: null, listing: null, roots: [], openActions: null, loads: 0 };

function announce(words) {
  $("files-announce").textContent = words;
}

function pageUrl(system, path) {
  const url = new URL(window.location.href);
  url.search = new URLSearchParams({ system, path }).toString();
  return url.toString();
}

// The filesystems of each system (status/filesystems); a system it does not name gets none.
async function loadRoots() {
  try {
    const { out } = await request("status/filesystems");
    state.roots = Object.entries(out || {}).flatMap(([system, filesystems]) =>
      filesystems.map((filesystem) => ({ system, ...filesystem })));
    for (const root of state.roots) {
      reportProblem(`filesystem:${root.system}:${root.path}`, root.status === "available" ? null
        : `${root.path} on ${root.system} is not available right now: ${root.description}.`);
    }
  } catch (error) {
    reportProblem("filesystems", `The list of filesystems is not known: ${error.message}`);
  }
  const select = $("files-root");
  replace(select, settings.systems.map((system) => el("optgroup", { label: system },
    state.roots.filter((root) => root.system === system).map((root) =>
      el("option", { value: `${state.roots.indexOf(root)}` }, `${root.name} (${root.path})`)))));
}

// The folder a page opens without ?path=: Portal.home_path, else the account's home, found as the one
// filesystem entry named like the account that is the same inode as "." (where relative paths start).
async function startPath(system) {
  if (settings.homePath.startsWith("/")) return settings.homePath;
  const roots = state.roots.filter((root) => root.system === system);
  try {
    const [{ output: account }, { output: home }] = await Promise.all([
      request("utilities/whoami", { system }), request("utilities/stat", { system, params: { targetPath: "." } })]);
    // One by one, so that the usual first match costs no failed request.
    for (const root of roots) {
      const candidate = joinPath(root.path, account);
      const stat = await request("utilities/stat", { system, params: { targetPath: candidate } })
        .then((answer) => answer.output, () => null);
      if (stat && stat.ino === home.ino && stat.dev === home.dev) {
        return settings.homePath ? joinPath(candidate, settings.homePath) : candidate;
      }
    }
  } catch (error) {
    showError(errorBox, error);
  }
  return roots.length ? roots[0].path : "/";
}

function rootOf(system, path) {
  return state.roots.filter((root) => root.system === system && (path === root.path || path.startsWith(`${root.path}/`)
    || root.path === "/")).sort((a, b) => b.path.length - a.path.length)[0];
}

function folderLink(system, path, label, extra = {}) {
  return el("a", { href: pageUrl(system, path), ...extra, onclick: (event) => {
    if (event.button || event.metaKey || event.ctrlKey || event.shiftKey) return;  // a new tab: the browser's
    event.preventDefault();
    go(system, path);
  } }, label);
}

function showBreadcrumbs() {
  const { system, path } = state;
  const root = rootOf(system, path);
  const base = root ? root.path : "/";
  const below = path.slice(base.length).split("/").filter(Boolean);
  const crumbs = [{ path: base, label: base }];
  below.forEach((name, index) => crumbs.push({ path: joinPath(base, below.slice(0, index + 1).join("/")), label: name }));
  replace($("files-breadcrumbs"),
    el("li", { class: "breadcrumb-item" }, system),
    crumbs.map((crumb, index) => el("li", { class: `breadcrumb-item${index === crumbs.length - 1 ? " active" : ""}`,
      "aria-current": index === crumbs.length - 1 ? "location" : null },
    index === crumbs.length - 1 ? crumb.label : folderLink(system, crumb.path, crumb.label))));
  if (root) $("files-root").value = String(state.roots.indexOf(root));
  $("files-up").disabled = !root || path === root.path;
}

function closeActions() {
  if (state.openActions) {
    const { row, button } = state.openActions;
    row.remove();
    button.setAttribute("aria-expanded", "false");
    state.openActions = null;
    button.focus();
  }
}

function toggleActions(entry, button) {
  const wasOpen = state.openActions && state.openActions.button === button;
  closeActions();
  if (wasOpen) return;
  const row = actionsRow(entry, { system: state.system, directory: state.path }, {
    done: (words) => { announce(words); load({ keepPage: true, note: words }); },
    view: showText, close: closeActions });
  button.closest("tr").after(row);
  button.setAttribute("aria-expanded", "true");
  state.openActions = { row, button };
  row.querySelector("button").focus();
}

function entryRow(entry) {
  const path = joinPath(state.path, entry.name);
  const name = entry.isDirectory ? folderLink(state.system, path, entry.name, { class: "files-folder" })
    : el("span", { class: "files-file" }, entry.name);
  const actions = el("button", { type: "button", class: "btn btn-sm btn-outline-secondary files-actions-toggle",
    "aria-expanded": "false", "aria-label": `Actions for ${entry.name}`, onclick: (event) => toggleActions(entry, event.currentTarget) },
  "Actions");
  return el("tr", { dataset: { name: entry.name } }, entryCells(entry, name), el("td", { class: "text-end" }, actions));
}

function render() {
  const listing = state.listing;
  state.openActions = null;
  replace(box, listing.shown.length ? listingTable(listing, entryRow, (key) => { listing.sortBy(key); render(); })
    : empty(listing.entries.length ? "Only hidden files here." : "This folder is empty."));
  replace($("files-pager"), pager(listing, (page) => { listing.page = page; render(); box.focus?.(); }));
}

// Lists the current folder (once; sorting and pages are the browser's); `note` stays shown above it.
async function load({ keepPage = false, note = null } = {}) {
  const loadNumber = ++state.loads;
  const { system, path } = state;
  const previous = state.listing;
  showBreadcrumbs();
  errorBox.replaceChildren();
  box.setAttribute("aria-busy", "true");  // until this folder's listing (or its error) is shown
  if (note) errorBox.append(el("div", { class: "alert alert-success py-2 my-2", role: "status" }, note));
  try {
    const { output } = await request("utilities/ls", { system, params: { targetPath: path, showhidden: true } });
    if (loadNumber !== state.loads) return;  // a later navigation won
    const listing = new Listing(output);
    listing.showHidden = $("files-hidden").checked;
    if (keepPage && previous) Object.assign(listing, { sortKey: previous.sortKey, descending: previous.descending,
      page: previous.page });
    listing.refresh();
    state.listing = listing;
    render();
    reportProblem(`system:${system}`, null);
  } catch (error) {
    if (loadNumber !== state.loads) return;
    state.listing = null;
    replace(box);
    replace($("files-pager"));
    showError(errorBox, error);
  }
  box.removeAttribute("aria-busy");
}

function go(system, path, { push = true } = {}) {
  closeActions();
  state.system = system;
  state.path = path.length > 1 ? path.replace(/\/+$/, "") : path;
  if (push) window.history.pushState({ system, path: state.path }, "", pageUrl(system, state.path));
  replace(box, el("p", { class: "text-body-secondary" }, "Loading…"));
  return load();
}

function wireToolbar() {
  $("files-root").addEventListener("change", (event) => {
    const root = state.roots[Number(event.target.value)];
    if (root) go(root.system, root.path);
  });
  $("files-up").addEventListener("click", () => go(state.system, state.path.replace(/\/[^/]*$/, "") || "/"));
  $("files-refresh").addEventListener("click", () => load({ keepPage: true }));
  $("files-hidden").addEventListener("change", (event) => {
    if (!state.listing) return;
    state.listing.showHidden = event.target.checked;
    state.listing.refresh();
    render();
  });
  const folderForm = $("files-folder-form");
  const toggleFolderForm = (open) => {
    folderForm.hidden = !open;
    $("files-new-folder").setAttribute("aria-expanded", String(open));
    if (open) $("files-folder-name").focus();
  };
  $("files-new-folder").addEventListener("click", () => toggleFolderForm(folderForm.hidden));
  $("files-folder-cancel").addEventListener("click", () => toggleFolderForm(false));
  folderForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const name = $("files-folder-name").value.trim();
    folderForm.querySelectorAll(".alert").forEach((node) => node.remove());
    try {
      await request("utilities/mkdir", { method: "POST", system: state.system,
        form: { targetPath: joinPath(state.path, name) } });
      $("files-folder-name").value = "";
      toggleFolderForm(false);
      load({ keepPage: true, note: `Created the folder “${name}”.` });
    } catch (error) {
      showError(folderForm, error);
    }
  });
  const upload = (files) => {
    if (files.length) uploadFiles([...files], state.system, state.path, () => load({ keepPage: true }));
  };
  $("files-picker").addEventListener("change", (event) => { upload(event.target.files); event.target.value = ""; });
  const drop = $("files-drop");
  drop.addEventListener("dragover", (event) => { event.preventDefault(); drop.classList.add("files-drop-over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("files-drop-over"));
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    drop.classList.remove("files-drop-over");
    upload(event.dataTransfer.files);
  });
  $("files-viewer-close").addEventListener("click", () => { $("files-viewer").hidden = true; });
  window.addEventListener("popstate", (event) => {
    if (event.state) go(event.state.system, event.state.path, { push: false });
  });
}

function showText(entry, text) {
  $("files-viewer-name").textContent = entry.name;
  $("files-viewer-text").textContent = text;
  $("files-viewer").hidden = false;
  $("files-viewer").scrollIntoView({ block: "nearest" });
  $("files-viewer-text").focus();
}

async function start() {
  wireToolbar();
  const asked = new URLSearchParams(window.location.search);
  const system = settings.systems.includes(asked.get("system")) ? asked.get("system") : settings.systems[0];
  if (!system) {
    replace(box, empty("No system is configured."));
    return;
  }
  // A folder named in the address is listed while the filesystems are asked for.
  const roots = loadRoots();
  const path = asked.get("path") || await roots.then(() => startPath(system));
  window.history.replaceState({ system, path }, "", pageUrl(system, path));
  await Promise.all([go(system, path, { push: false }), roots.then(showBreadcrumbs)]);
}

start();
