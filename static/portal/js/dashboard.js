// The dashboard: each system's health, my active jobs, my recent tasks, live through the event stream.
import { request, settings, showSystemsHealth, subscribe, taskState } from "./api.js";
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
  replace(box, rows.length ? table(["Job", "Name", "State", "System", "Time"], rows, { caption: "My active jobs" })
    : empty("No active jobs."));
}

async function showTasks() {
  const box = document.getElementById("recent-tasks");
  try {
    const { tasks: recent } = await request("tasks", { data: true, params: { limit: 8 } });
    replace(box, recent.length ? table(["When", "What", "Status"], recent.map((task) => el("tr", {},
      el("td", { class: "text-nowrap" }, formatTime(task.updated_at)),
      el("td", {}, TASK_KINDS[task.kind] || task.kind),
      el("td", {}, taskState(task)))), { caption: "My recent tasks" }) : empty("No tasks yet."));
  } catch (error) {
    replace(box, el("p", { class: "error-text" }, error.message));
  }
}

showSystemsHealth(document.getElementById("systems-health"));
showJobs();
showTasks();
let pending = null;
subscribe(() => {  // a burst of events refreshes once
  clearTimeout(pending);
  pending = setTimeout(() => { showJobs(); showTasks(); }, 300);
});
