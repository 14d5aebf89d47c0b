// The status page: the systems' health, partitions with free/total nodes and CPUs and a chart of their
// load, my jobs of the last week as a timeline, nodes and reservations.
import { request, showSystemsHealth } from "./api.js";
import { el, empty, replace, table } from "./dom.js";
import { chartNote, loadBars, timeline } from "./jobs-charts.js";
import { currentSystem, jobUrl, slurmTime, systemPicker } from "./jobs-common.js";

const $ = (id) => document.getElementById(id);
const WEEK = 7 * 24 * 3600 * 1000;
let system = currentSystem();

function failed(box, what, error) {
  replace(box, el("p", { class: "error-text", role: "alert" }, `${what}: ${error.message}`));
}

async function showPartitions() {
  try {
    const { partitions } = await request("partitions", { params: { system }, data: true });
    replace($("partitions"), partitions.length ? table(
      ["Partition", "State", "Free nodes", "Free CPUs", "Max time", "Default time", "Max nodes"],
      partitions.map((partition) => el("tr", {},
        el("th", { scope: "row" }, partition.name, partition.default ? el("span", { class: "badge text-bg-secondary ms-1" }, "default") : null),
        el("td", {}, el("span", { class: partition.state === "UP" ? "state state-ok" : "state state-error" }, partition.state)),
        el("td", {}, `${partition.nodes_idle} / ${partition.nodes_total}`),
        el("td", {}, `${partition.cpus_idle} / ${partition.cpus_total}`),
        el("td", {}, partition.max_time),
        el("td", { class: "hide-narrow" }, partition.default_time),
        el("td", { class: "hide-narrow" }, partition.max_nodes))),
      { caption: "Partitions" }) : empty("The system has no partitions."));
    for (const index of [6, 7]) $("partitions").querySelector(`th:nth-child(${index})`).classList.add("hide-narrow");
    replace($("load-chart"), partitions.length ? [loadBars(partitions.map((partition) => ({
      name: partition.name, allocated: partition.cpus_allocated, idle: partition.cpus_idle,
      unavailable: Math.max(0, partition.cpus_total - partition.cpus_allocated - partition.cpus_idle),
    }))), chartNote("CPUs allocated to jobs, idle, and on nodes that take no work (down, drained). Partitions may share nodes.")]
      : empty("No partitions."));
  } catch (error) {
    failed($("partitions"), "Partitions", error);
    failed($("load-chart"), "Partition load", error);
  }
}

async function showNodes() {
  try {
    const { nodes } = await request("nodes", { params: { system }, data: true });
    replace($("nodes"), nodes.length ? table(["Node", "State", "CPUs used", "Memory", "Partitions"],
      nodes.map((node) => el("tr", {},
        el("th", { scope: "row", class: "mono" }, node.name),
        el("td", {}, el("span", { class: `state state-node-${node.state[0] || ""}` }, node.state.join("+")),
          node.reason ? el("div", { class: "small text-body-secondary" }, node.reason) : null),
        el("td", {}, `${node.cpus_allocated} / ${node.cpus_total}`),
        el("td", {}, node.memory_mb ? `${(node.memory_mb / 1024).toFixed(1)} GiB` : ""),
        el("td", {}, node.partitions.join(", ")))),
      { caption: "Nodes" }) : empty("No nodes."));
  } catch (error) {
    failed($("nodes"), "Nodes", error);
  }
}

async function showReservations() {
  try {
    const { reservations } = await request("reservations", { params: { system }, data: true });
    replace($("reservations"), reservations.length ? table(["Reservation", "State", "Start", "End", "Nodes"],
      reservations.map((item) => el("tr", {},
        el("th", { scope: "row" }, item.name), el("td", {}, item.state),
        el("td", { class: "text-nowrap" }, slurmTime(item.start_time)),
        el("td", { class: "text-nowrap" }, slurmTime(item.end_time)), el("td", { class: "mono" }, item.nodes))),
      { caption: "Reservations" }) : empty("No reservations."));
  } catch (error) {
    failed($("reservations"), "Reservations", error);
  }
}

function asDate(value, fallback) {
  const date = value && !["None", "Unknown", "N/A"].includes(value) ? new Date(value) : null;
  return date && !Number.isNaN(date.getTime()) ? date : fallback;
}

async function showTimeline() {
  const to = new Date();
  const from = new Date(to.getTime() - WEEK);
  try {
    const { jobs } = await request("history", { params: { system, start: "now-7days" }, data: true });
    const spans = jobs.filter((job) => asDate(job.start_time, null)).map((job) => ({
      jobid: job.jobid, name: job.name, state: job.state,
      start: asDate(job.start_time, to), end: asDate(job.end_time, to),
    }));
    // The latest jobs are the interesting ones; a week of a busy user would not fit.
    const shown = spans.slice(-40);
    // The axis spans the shown jobs (at least an hour), so that a busy afternoon is not a hairline.
    const earliest = new Date(Math.min(...shown.map((job) => job.start.getTime()), to.getTime() - 3600000));
    replace($("timeline-chart"), shown.length ? [timeline(shown, earliest < from ? from : earliest, to),
      chartNote(`The latest ${shown.length} of the ${spans.length} jobs that started in the last week; hover a bar for its job.`),
      el("details", { class: "small mt-1" }, el("summary", {}, "The same as a list"),
        el("ul", { class: "mb-0" }, shown.map((job) => el("li", {}, el("a", { href: jobUrl(system, job.jobid) }, job.jobid),
          ` ${job.name} — ${job.state}, ${job.start.toLocaleString()} to ${job.end.toLocaleString()}`))))]
      : empty("None of your jobs ran in the last week."));
  } catch (error) {
    failed($("timeline-chart"), "My jobs", error);
  }
}

function showAll() {
  showPartitions();
  showNodes();
  showReservations();
  showTimeline();
}

systemPicker($("system-picker"), (chosen) => { system = chosen; showAll(); });
showSystemsHealth($("systems"));
showAll();
