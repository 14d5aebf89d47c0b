// The jobs page: my active jobs (the shared job-state cache) and my history (sacct), with filters; the
// active list follows the job events of the task stream.
import { request, subscribe } from "./api.js";
import { el, empty, replace, stateBadge, table } from "./dom.js";
import { currentSystem, debounced, exitCode, jobLink, slurmTime, stateWord, systemPicker } from "./jobs-common.js";

const stateFilter = document.getElementById("filter-state");
const nameFilter = document.getElementById("filter-name");
const historyForm = document.getElementById("history-form");
const historyStart = document.getElementById("history-start");
const historyEnd = document.getElementById("history-end");
const activeBox = document.getElementById("active-jobs");
const historyBox = document.getElementById("history-jobs");
const WEEK = 7 * 24 * 3600 * 1000;
// How often the active list asks again without events (a job can end while no one reads the queue).
const ACTIVE_REFRESH = 15000;

let system = currentSystem();
let active = [];
let history = [];
// A week of a busy user is thousands of jobs: the history shows a page of them, and more on request.
const HISTORY_PAGE = 50;
let historyLimit = HISTORY_PAGE;

function matches(job) {
  const state = stateFilter.value;
  const name = nameFilter.value.trim().toLowerCase();
  return (!state || stateWord(job.state) === state) && (!name || String(job.name).toLowerCase().includes(name));
}

function showActive() {
  const shown = active.filter(matches);
  replace(document.getElementById("active-count"), String(shown.length));
  replace(activeBox, shown.length ? table(
    ["Job", "Name", "State", "Partition", "Started", "Time used", "Nodes"],
    shown.map((job) => el("tr", { dataset: { jobid: job.jobid } },
      el("td", {}, jobLink(system, job.jobid)),
      el("td", { class: "truncate job-name" }, job.name),
      el("td", {}, stateBadge(job.state)),
      el("td", {}, job.partition),
      el("td", { class: "text-nowrap hide-narrow" }, slurmTime(job.start_time)),
      el("td", {}, job.time),
      el("td", { class: "hide-narrow mono" }, job.nodelist))),
    { caption: "My active jobs", narrowHidden: ["Started", "Nodes"] })
    : empty(active.length ? "No active job matches the filters." : "No active jobs."));
}

function showHistory() {
  const matching = history.filter(matches);
  const shown = matching.slice(0, historyLimit);
  const more = matching.length - shown.length;
  replace(historyBox, shown.length ? table(
    ["Job", "Name", "State", "Exit", "Partition", "Submitted", "Started", "Ended", "Elapsed"],
    shown.map((job) => el("tr", { dataset: { jobid: job.jobid } },
      el("td", {}, jobLink(system, job.jobid)),
      el("td", { class: "truncate job-name" }, job.name),
      el("td", {}, stateBadge(job.state)),
      el("td", { class: "mono hide-narrow" }, exitCode(job.exit_code)),
      el("td", { class: "hide-narrow" }, job.partition),
      el("td", { class: "text-nowrap hide-narrow" }, slurmTime(job.submit_time)),
      el("td", { class: "text-nowrap hide-narrow" }, slurmTime(job.start_time)),
      el("td", { class: "when" }, slurmTime(job.end_time)),
      el("td", { class: "hide-narrow" }, job.time))),
    { caption: "My job history", narrowHidden: ["Exit", "Partition", "Submitted", "Started", "Elapsed"] })
    : empty(history.length ? "No job in this range matches the filters." : "No jobs in this range."),
  more > 0 ? el("button", { type: "button", class: "btn btn-outline-secondary btn-sm", id: "history-more",
    onclick: () => { historyLimit += HISTORY_PAGE; showHistory(); } },
  `Show ${Math.min(more, HISTORY_PAGE)} more (${more} not shown)`) : null);
}

async function loadActive() {
  try {
    active = (await request("jobs", { params: { system }, data: true })).jobs;
    showActive();
  } catch (error) {
    replace(activeBox, el("p", { class: "error-text", role: "alert" }, `Active jobs: ${error.message}`));
  }
}

// A datetime-local value (local time) as sacct's YYYY-MM-DDTHH:MM:SS in the same wall-clock time.
function sacctTime(value) {
  return value ? (value.length === 16 ? `${value}:00` : value) : undefined;
}

function localInput(date) {
  const shifted = new Date(date.getTime() - date.getTimezoneOffset() * 60000);
  return shifted.toISOString().slice(0, 16);
}

async function loadHistory() {
  replace(historyBox, el("p", { class: "text-body-secondary" }, "Asking the accounting…"));
  try {
    const answer = await request("history", {
      params: { system, start: sacctTime(historyStart.value), end: sacctTime(historyEnd.value) }, data: true });
    // Newest first: what a user looks for is what just ran.
    history = answer.jobs.slice().reverse();
    historyLimit = HISTORY_PAGE;
    showHistory();
  } catch (error) {
    replace(historyBox, el("p", { class: "error-text", role: "alert" }, `History: ${error.message}`));
  }
}

historyStart.value = localInput(new Date(Date.now() - WEEK));
historyForm.addEventListener("submit", (event) => { event.preventDefault(); loadHistory(); });
stateFilter.addEventListener("change", () => { showActive(); showHistory(); });
nameFilter.addEventListener("input", () => { showActive(); showHistory(); });
systemPicker(document.getElementById("system-picker"), (chosen) => { system = chosen; loadActive(); loadHistory(); });

loadActive();
loadHistory();
setInterval(loadActive, ACTIVE_REFRESH);
const refreshBoth = debounced(() => { loadActive(); loadHistory(); }, 500);
subscribe((kind, payload) => {
  if (kind !== "job" || payload.system !== system) return;
  const known = active.find((job) => job.jobid === payload.jobid);
  if (known) { Object.assign(known, payload); showActive(); }
  refreshBoth();
});
