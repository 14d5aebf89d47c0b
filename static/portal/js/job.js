// One job's page: its details (the queue while Slurm holds it, then the accounting), a live tail of its
// output and error files, and cancel (DELETE compute/jobs/<id>, after a confirmation on the page).
import { ApiError, request, runTask, settings, subscribe } from "./api.js";
import { el, replace, stateBadge } from "./dom.js";
import { currentSystem, exitCode, slurmTime, stateWord } from "./jobs-common.js";

const jobid = document.getElementById("job").dataset.jobid;
const system = currentSystem();
const $ = (id) => document.getElementById(id);
// While the job runs its page asks every few seconds (this also keeps the job events coming: they
// follow the reads of the shared queue).
const ACTIVE_REFRESH = 3000;
const TAIL_BYTES = 16384;

let job = null;
let timer = null;

const DETAILS = [
  ["System", () => system], ["Name", (j) => j.name], ["State", (j) => j.state], ["Reason", (j) => j.reason],
  ["Exit code", (j) => exitCode(j.exit_code)], ["Partition", (j) => j.partition], ["Account", (j) => j.account],
  ["Submitted", (j) => slurmTime(j.submit_time)], ["Started", (j) => slurmTime(j.start_time)],
  ["Ended", (j) => slurmTime(j.end_time)], ["Time used", (j) => j.time], ["Time limit", (j) => j.time_limit],
  ["Time left", (j) => (j.active ? j.time_left : "")], ["Nodes", (j) => j.nodes], ["Node list", (j) => j.nodelist],
  ["Directory", (j) => j.work_dir], ["Script", (j) => (String(j.job_file).startsWith("/") ? j.job_file : "")],
];

function showJob() {
  $("job-loading").hidden = true;
  $("job-found").hidden = false;
  replace($("job-state"), stateBadge(job.state));
  replace($("job-name"), job.name);
  replace($("job-details"), DETAILS.flatMap(([label, value]) => {
    const text = value(job);
    if (!text || text === "None" || text === "(None)") return [];
    return [el("dt", { class: "col-5 col-sm-4" }, label), el("dd", { class: "col-7 col-sm-8 text-break" }, text)];
  }));
  $("cancel-job").hidden = !job.active;
  if (!job.active) $("cancel-confirm").hidden = true;
  document.title = `Job ${jobid} (${stateWord(job.state)}) · FirecREST portal`;
}

function showMissing(message) {
  $("job-loading").hidden = true;
  $("job-found").hidden = true;
  $("job-missing").hidden = false;
  replace($("job-missing"), el("div", { class: "alert alert-info", role: "alert" }, message),
    el("a", { href: `${settings.base}jobs` }, "Back to my jobs"));
}

function showFile(prefix, file) {
  replace($(`${prefix}-path`), file.path || "unknown");
  replace($(`job-${prefix}`), file.exists ? file.text : (file.path ? "(no such file yet)" : "(Slurm does not say where)"));
}

async function loadOutput() {
  try {
    const answer = await request("job/output", { params: { system, jobid, bytes: TAIL_BYTES }, data: true });
    const pre = $("job-out");
    const atBottom = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
    showFile("out", answer.files.out);
    $("err-block").hidden = Boolean(answer.files.err.same_as_out);
    if (!answer.files.err.same_as_out) showFile("err", answer.files.err);
    // Follow the end of the output as it grows, unless the reader scrolled up to read.
    if (atBottom) pre.scrollTop = pre.scrollHeight;
    replace($("output-note"), `(last ${TAIL_BYTES / 1024} KiB${job && job.active ? ", follows the job" : ""})`);
    replace($("output-error"));
  } catch (error) {
    replace($("output-error"), el("p", { class: "error-text", role: "alert" }, `The output cannot be read: ${error.message}`));
  }
}

async function load() {
  try {
    const answer = await request("job", { params: { system, jobid }, data: true });
    const wasActive = job ? job.active : true;
    job = answer.job;
    showJob();
    if (wasActive) await loadOutput();
    schedule();
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) {
      showMissing(error.message);
    } else if (job) {
      replace($("output-error"), el("p", { class: "error-text", role: "alert" }, error.message));
      schedule();
    } else {
      showMissing(error.message);
      schedule();
    }
  }
}

// The accounting learns how a job ended a moment after the queue shows it ended: ask a few more times.
let endingChecks = 10;

function schedule() {
  clearTimeout(timer);
  if (!job || job.active) timer = setTimeout(load, ACTIVE_REFRESH);
  else if (!job.exit_code && endingChecks-- > 0) timer = setTimeout(load, ACTIVE_REFRESH);
}

$("cancel-job").addEventListener("click", () => {
  $("cancel-confirm").hidden = false;
  $("cancel-yes").focus();
});
$("cancel-no").addEventListener("click", () => {
  $("cancel-confirm").hidden = true;
  $("cancel-job").focus();
});
$("cancel-yes").addEventListener("click", async () => {
  $("cancel-yes").disabled = true;
  replace($("cancel-result"), el("p", { class: "text-body-secondary" }, "Cancelling…"));
  try {
    await runTask(`compute/jobs/${encodeURIComponent(jobid)}`, { method: "DELETE", system });
    $("cancel-confirm").hidden = true;
    replace($("cancel-result"), el("div", { class: "alert alert-success py-2" }, `Job ${jobid} was cancelled.`));
    load();
  } catch (error) {
    replace($("cancel-result"), el("div", { class: "alert alert-danger py-2", role: "alert" },
      `Job ${jobid} could not be cancelled: ${error.message}`));
  } finally {
    $("cancel-yes").disabled = false;
  }
});

subscribe((kind, payload) => {
  if (kind !== "job" || payload.system !== system || payload.jobid !== jobid || !job) return;
  Object.assign(job, payload, { active: !isEnded(payload.state) });
  showJob();
  loadOutput();
  if (isEnded(payload.state)) load();  // the accounting's record adds the exit code and end time
});

const ENDED = new Set(["BOOT_FAIL", "CANCELLED", "COMPLETED", "DEADLINE", "FAILED", "NODE_FAIL", "OUT_OF_MEMORY",
  "PREEMPTED", "REVOKED", "SPECIAL_EXIT", "TIMEOUT"]);

function isEnded(state) {
  return ENDED.has(stateWord(state));
}

load();
