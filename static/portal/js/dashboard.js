// The dashboard: each system's health, my active jobs, my recent tasks, live through the event stream.
import { isFinal, request, settings, showSystemsHealth, subscribe, taskState } from "./api.js";
import { el, empty, formatTime, replace, stateBadge, table } from "./dom.js";

const TASK_KINDS = { submit: "Job submission", cancel: "Job cancellation", "xfer-internal": "Internal transfer",
  "xfer-external-upload": "Upload", "xfer-external-download": "Download" };

async function showJobs() {
  const box = document.getElementById("active-jobs");
  const rows = [];
  for (const system of settings.systems) {
    try {
      const { jobs } = await request("jobs", { system, data: true });
      for (const job of jobs) {
        rows.push(el("tr", {},
          el("td", {}, el("a", { href: `${settings.base}jobs/${job.jobid}?system=${encodeURIComponent(system)}` }, job.jobid)),
          el("td", { class: "truncate" }, job.name), el("td", {}, stateBadge(job.state)),
          el("td", { class: "hide-narrow" }, system), el("td", { class: "hide-narrow" }, job.time)));
      }
    } catch (error) {
      rows.push(el("tr", {}, el("td", { colspan: 5, class: "error-text" }, `${system}: ${error.message}`)));
    }
  }
  replace(box, rows.length ? table(["Job", "Name", "State", "System", "Time"], rows,
    { caption: "My active jobs", narrowHidden: ["System", "Time"] })
    : empty("No active jobs."));
}

const taskRows = new Map();  // task id -> its row, kept for the task's next states

function taskCells(task, kind) {
  return [el("td", { class: "when" }, formatTime(task.updated_at)), el("td", {}, TASK_KINDS[kind] || kind),
    el("td", {}, taskState(task))];
}

async function showTasks() {
  const box = document.getElementById("recent-tasks");
  try {
    const { tasks: recent } = await request("tasks", { data: true, params: { limit: 8 } });
    taskRows.clear();
    const rows = recent.map((task) => {
      const row = el("tr", { dataset: { kind: task.kind } }, taskCells(task, task.kind));
      taskRows.set(task.task_id, row);
      return row;
    });
    replace(box, rows.length ? table(["When", "What", "Status"], rows, { caption: "My recent tasks" })
      : empty("No tasks yet."));
  } catch (error) {
    replace(box, el("p", { class: "error-text" }, error.message));
  }
}

showSystemsHealth(document.getElementById("systems-health"));
showJobs();
showTasks();
let pending = null;
subscribe((kind, payload) => {
  const row = kind === "task" ? taskRows.get(payload.task_id) : null;
  if (row && !isFinal(payload.status)) {  // a listed task on its way (a transfer's progress): that row only
    replace(row, taskCells(payload, row.dataset.kind));
    return;
  }
  clearTimeout(pending);  // anything else may change the lists (a job submitted, a task new): a burst reads once
  pending = setTimeout(() => { showJobs(); showTasks(); }, 300);
});
