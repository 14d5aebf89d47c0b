// The transfers page: the user's staged uploads and downloads (progress in bytes where the task data
// says) and internal transfer jobs, each with its outcome; live through the task event stream.
import { isFinal, request, settings, showError, subscribe } from "./api.js";
import { el, empty, formatBytes, formatTime, replace, table } from "./dom.js";
import { CANCELLED, stateWords, taskReason } from "./staging-words.js";

const STAGING_KINDS = { "xfer-external-upload": "Upload", "xfer-external-download": "Download" };
const KINDS = [...Object.keys(STAGING_KINDS), "xfer-internal"].join(",");
const PAGE = 25;  // rows at first, and more with each "Show older"
const box = document.getElementById("transfers");
const rows = new Map();  // task id -> its row, updated in place by events

function what(task) {
  if (task.kind in STAGING_KINDS) return STAGING_KINDS[task.kind];
  return "Transfer job";
}

function files(task) {
  const data = task.data && typeof task.data === "object" ? task.data : {};
  if (task.kind === "xfer-external-upload") return data.target || data.source || "";
  if (task.kind === "xfer-external-download") return data.source || "";
  const link = el("a", { href: `${settings.base}jobs/${data.jobid}?system=${encodeURIComponent(task.system)}` },
    `job ${data.jobid}`);
  return [link, " ", el("span", { class: task.summary ? "" : "text-body-secondary" }, task.summary || data.job_file_out || "")];
}

function progress(task) {
  const data = task.data && typeof task.data === "object" ? task.data : {};
  const total = Number(data.bytes_total);
  if (!(task.kind in STAGING_KINDS) || !Number.isFinite(total) || total <= 0) return "";
  const done = Math.min(total, Number(data.bytes_done) || 0);
  const percent = Math.round((100 * done) / total);
  const bar = el("div", { class: "progress-bar" });
  bar.style.width = `${percent}%`;
  return el("div", { class: "transfers-progress" },
    el("div", { class: "progress", role: "progressbar", "aria-label": `${what(task)} progress`,
      "aria-valuemin": 0, "aria-valuemax": 100, "aria-valuenow": percent }, bar),
    el("span", { class: "small text-nowrap" }, `${formatBytes(done)} of ${formatBytes(total)}`));
}

function outcome(task) {
  const status = String(task.status);
  const failed = ["115", "118", "400"].includes(status) && taskReason(task) !== CANCELLED;
  const staging = task.kind in STAGING_KINDS;
  const tone = failed ? "state-error" : !isFinal(status) ? "state-progress" : taskReason(task) === CANCELLED ? "" : "state-ok";
  const state = el("span", { class: `state ${tone}`,
    title: task.description }, staging ? stateWords(task) : task.description);
  const reason = failed ? el("div", { class: "small error-text" }, taskReason(task)) : null;
  const link = status === "117" && task.data && task.data.url
    ? el("a", { class: "small d-block", href: task.data.url, rel: "noreferrer" }, "Save the file") : null;
  return [state, reason, link];
}

function cells(task) {
  return [
    el("td", { class: "text-nowrap hide-narrow" }, formatTime(task.updated_at)),
    el("td", {}, what(task)),
    el("td", { class: "transfers-file" }, files(task)),
    el("td", { class: "transfers-progress-cell" }, progress(task)),
    el("td", {}, outcome(task)),
  ];
}

function row(task) {
  const node = el("tr", { class: "transfers-row",
    dataset: { task: task.task_id, kind: task.kind, status: task.status, summary: task.summary || "" } }, cells(task));
  rows.set(task.task_id, node);
  return node;
}

let shown = PAGE;

async function load() {
  try {
    // One more than shown tells whether there are older ones.
    const { tasks: transfers } = await request("tasks", { data: true, params: { kinds: KINDS, limit: shown + 1 } });
    rows.clear();
    const older = transfers.length > shown ? el("button", { type: "button", class: "btn btn-sm btn-outline-secondary",
      id: "transfers-older", onclick: () => { shown += PAGE; load(); } }, "Show older transfers") : null;
    replace(box, transfers.length ? table(["When", "What", "File", "Progress", "Outcome"],
      transfers.slice(0, shown).map(row), { caption: "My transfers", narrowHidden: ["When"] })
      : empty("No transfers yet."), older);
    // narrow screens stack each transfer's cells (files.css)
    box.querySelector("table")?.classList.add("transfers-table");
    document.getElementById("transfers-error").replaceChildren();
  } catch (error) {
    replace(document.getElementById("transfers-error"));
    showError(document.getElementById("transfers-error"), error);
  }
}

let pending = null;
subscribe((kind, task) => {
  if (kind !== "task") return;
  const node = rows.get(task.task_id);
  if (node) {  // an event carries v1's task, without the kind and summary: keep the row's
    const updated = { ...task, kind: node.dataset.kind, summary: node.dataset.summary };
    node.dataset.status = task.status;
    replace(node, cells(updated));
    return;
  }
  clearTimeout(pending);  // a new task: read the list again, once for a burst
  pending = setTimeout(load, 300);
});
load();
