// What the jobs, job, compose and status pages share: the system they show (from ?system=, a select when
// there are several), links to a job's page, and reading the job events of the task stream.
import { settings } from "./api.js";
import { el } from "./dom.js";

// The system named in the page's URL, else the first configured one.
export function currentSystem() {
  const named = new URLSearchParams(window.location.search).get("system");
  return settings.systems.includes(named) ? named : settings.systems[0];
}

// A select of the systems in `container` (nothing when there is only one); onChange(system) on a change.
export function systemPicker(container, onChange) {
  if (!container || settings.systems.length < 2) return;
  const select = el("select", { class: "form-select form-select-sm", id: "system", "aria-label": "System" },
    settings.systems.map((name) => el("option", { value: name, selected: name === currentSystem() }, name)));
  select.addEventListener("change", () => {
    const url = new URL(window.location.href);
    url.searchParams.set("system", select.value);
    window.history.replaceState(null, "", url);
    onChange(select.value);
  });
  container.append(el("label", { for: "system", class: "form-label small mb-0" }, "System"), select);
}

export function jobUrl(system, jobid) {
  return `${settings.base}jobs/${encodeURIComponent(jobid)}?system=${encodeURIComponent(system)}`;
}

export function jobLink(system, jobid) {
  return el("a", { href: jobUrl(system, jobid), "aria-label": `Job ${jobid}` }, jobid);
}

// The first word of a Slurm state ("CANCELLED by 1001" -> "CANCELLED").
export function stateWord(state) {
  return String(state || "").split(" ")[0];
}

// Slurm's time strings as the browser's local time; N/A, None and Unknown as nothing.
export function slurmTime(value) {
  if (!value || ["N/A", "None", "Unknown", "(null)"].includes(value)) return "";
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? value : date.toLocaleString();
}

// "0:0" is a clean exit; "1:0" exit status 1; "0:9" killed by signal 9.
export function exitCode(value) {
  if (!value) return "";
  const [status, signal] = String(value).split(":");
  if (signal && signal !== "0") return `signal ${signal}`;
  return status;
}

// A debounced call: a burst of events refreshes once.
export function debounced(callback, wait = 300) {
  let pending = null;
  return (...args) => {
    clearTimeout(pending);
    pending = setTimeout(() => callback(...args), wait);
  };
}
