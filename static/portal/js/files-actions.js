// What can be done to one entry of the listing: download, view, rename or move, copy, change permissions,
// delete (after a confirmation). Each opens below its row, and says what went wrong right there.
import { request, settings, showError } from "./api.js";
import { append, el, replace } from "./dom.js";
import { download } from "./files-download.js";

export function joinPath(directory, name) {
  return directory === "/" ? `/${name}` : `${directory}/${name}`;
}

// "rwxr-x---" -> "750"; setuid, setgid and sticky letters count as their x.
export function octalMode(permissions) {
  let mode = "";
  for (let group = 0; group < 3; group += 1) {
    const [r, w, x] = permissions.slice(3 * group, 3 * group + 3);
    mode += String((r === "r" ? 4 : 0) + (w === "w" ? 2 : 0) + ("xst".includes(x) ? 1 : 0));
  }
  return mode;
}

function copyName(name) {
  const dot = name.lastIndexOf(".");
  return dot > 0 ? `${name.slice(0, dot)} copy${name.slice(dot)}` : `${name} copy`;
}

let formCount = 0;

// A one-field form: its label, the field's first value, what the button says, what submitting does.
function fieldForm(label, value, submit, action, { danger = false, hint } = {}) {
  formCount += 1;
  const id = `files-field-${formCount}`;
  const input = el("input", { class: "form-control", id, value, required: true, autocomplete: "off", spellcheck: "false" });
  return { focus: input, node: el("form", { class: "files-inline-form", onsubmit: (event) => {
    event.preventDefault();
    action(input.value.trim());
  } },
  el("label", { class: "form-label", for: id }, label),
  el("div", { class: "input-group input-group-sm" }, input,
    el("button", { class: `btn ${danger ? "btn-danger" : "btn-primary"}`, type: "submit" }, submit)),
  hint ? el("div", { class: "form-text" }, hint) : null) };
}

// The row below an entry's row with its actions. `place` = {system, directory}; `done(words)` refreshes
// the listing and says what happened; `view(entry, text)` shows a file's text.
export function actionsRow(entry, place, { done, view, close }) {
  const path = joinPath(place.directory, entry.name);
  const panel = el("div", { class: "files-panel" });
  const errors = el("div", {});
  const row = el("tr", { class: "files-actions-row" });
  // While a request runs its buttons wait; a change refreshes the listing (`words` say what it was).
  const busy = (promise, words) => {
    const buttons = [...row.querySelectorAll("button")];
    errors.replaceChildren();
    buttons.forEach((button) => { button.disabled = true; });
    const release = () => buttons.forEach((button) => { button.disabled = false; });
    return promise.then(() => (words ? done(words) : release()), (error) => {
      release();
      showError(errors, error);
    });
  };
  const call = (endpoint, method, form) => request(endpoint, { method, system: place.system, form });
  const open = ({ node, focus }) => {
    replace(panel, node);
    focus.focus();
    focus.select?.();
  };
  const forms = {
    rename: () => fieldForm(`New path of ${entry.name}`, path, "Rename or move",
      (target) => busy(call("utilities/rename", "PUT", { sourcePath: path, targetPath: target }),
        `Renamed “${entry.name}” to “${target}”.`)),
    copy: () => fieldForm(`Copy ${entry.name} to`, joinPath(place.directory, copyName(entry.name)), "Copy",
      (target) => busy(call("utilities/copy", "POST", { sourcePath: path, targetPath: target }),
        `Copied “${entry.name}” to “${target}”.`)),
    chmod: () => fieldForm(`Permissions of ${entry.name}`, octalMode(entry.permissions), "Change",
      (mode) => busy(call("utilities/chmod", "PUT", { targetPath: path, mode }),
        `The permissions of ${entry.name} are now ${mode}.`),
      { hint: "Octal like 750, or symbolic like u+x,go-w." }),
  };
  const confirmDelete = () => {
    const confirm = el("button", { type: "button", class: "btn btn-sm btn-danger",
      onclick: () => busy(call("utilities/rm", "DELETE", { targetPath: path }), `Deleted “${entry.name}”.`) },
    `Delete ${entry.isDirectory ? "the folder" : "the file"}`);
    replace(panel, el("div", { class: "files-inline-form", role: "group", "aria-label": "Confirm the deletion" },
      el("p", { class: "mb-2" }, entry.isDirectory
        ? `Delete the folder ${entry.name} and everything in it? This cannot be undone.`
        : `Delete ${entry.name}? This cannot be undone.`),
      el("div", { class: "d-flex gap-2" }, confirm,
        el("button", { type: "button", class: "btn btn-sm btn-outline-secondary", onclick: () => panel.replaceChildren() },
          "Keep it"))));
    confirm.focus();
  };
  const showText = () => busy(request("utilities/view", { system: place.system, params: { targetPath: path } })
    .then((answer) => view(entry, answer.output)), null);
  const button = (label, onclick, extra = "btn-outline-secondary") =>
    el("button", { type: "button", class: `btn btn-sm ${extra}`, onclick }, label);
  const isFile = !entry.isDirectory;
  const tooBigToView = entry.bytes > settings.maxFileSize;
  return append(row, el("td", { colspan: 5 },
    el("div", { class: "files-actions", role: "group", "aria-label": `Actions for ${entry.name}` },
      isFile ? button("Download", () => { download(place.system, path, entry); close(); }) : null,
      isFile && !tooBigToView ? button("View", showText) : null,
      button("Rename or move", () => open(forms.rename())),
      button("Copy", () => open(forms.copy())),
      button("Permissions", () => open(forms.chmod())),
      button("Delete", confirmDelete, "btn-outline-danger"),
      button("Close", close, "btn-link")),
    errors, panel));
}
