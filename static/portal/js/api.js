// The portal's one way to the REST API: the browser's hub session, the XSRF token on every request,
// JSON errors turned into plain words, v1's tasks awaited through the task event stream, and the banner
// that says what is down.
import { el, replace } from "./dom.js";

export const settings = JSON.parse(document.body.dataset.settings);

export class ApiError extends Error {
  constructor(status, description) {
    super(description);
    this.status = status;
  }
}

function describe(status, body) {
  if (status === 401) return "Your session has ended: reload the page to log in again.";
  if (body && typeof body === "object") return body.description || body.error || `request failed (${status})`;
  return `request failed (${status})`;
}

// request("utilities/ls", { system, params, form, method }) -> the parsed JSON answer of the REST API;
// with { data: true }, of the portal's own read endpoints (portal/api/, firecrest_hub/portal/data.py).
export async function request(path, { method = "GET", system, params, form, headers = {}, raw = false,
  data = false, signal } = {}) {
  const url = new URL((data ? settings.data : settings.api) + path, window.location.origin);
  for (const [name, value] of Object.entries(params || {})) {
    if (value !== undefined && value !== null) url.searchParams.set(name, value);
  }
  const sent = { "X-XSRFToken": settings.xsrf, ...headers };
  if (system) sent["X-Machine-Name"] = system;
  let body;
  if (form instanceof FormData) body = form;
  else if (form) body = new URLSearchParams(form);
  let response;
  try {
    response = await fetch(url, { method, headers: sent, body, credentials: "same-origin", signal });
  } catch (error) {
    if (error.name === "AbortError") throw error;  // the caller stopped it
    throw new ApiError(0, "The portal's service does not answer. Check your connection and try again.");
  }
  if (raw && response.ok) return response;
  const text = await response.text();
  let parsed = null;
  try { parsed = text ? JSON.parse(text) : null; } catch { parsed = null; }
  if (!response.ok) throw new ApiError(response.status, describe(response.status, parsed));
  return parsed;
}

// --- tasks -------------------------------------------------------------------------------------------

const FINAL = new Set(["114", "115", "117", "118", "200", "400"]);
const listeners = new Set();
let events = null;

export function isFinal(status) {
  return FINAL.has(String(status));
}

// Calls onEvent(kind, payload) for every task and job event of this user: one stream for the page.
export function subscribe(onEvent) {
  listeners.add(onEvent);
  if (!events) {
    const url = new URL(settings.api + "tasks/events", window.location.origin);
    url.searchParams.set("_xsrf", settings.xsrf);
    events = new EventSource(url);
    for (const kind of ["task", "job"]) {
      events.addEventListener(kind, (message) => {
        const payload = JSON.parse(message.data);
        for (const listener of listeners) listener(kind, payload);
      });
    }
  }
  return () => listeners.delete(onEvent);
}

// The task once final; onChange(task) for each state on the way. Events first, a slow poll as a net.
export function waitForTask(taskId, onChange = () => {}) {
  return new Promise((resolve) => {
    let done = false;
    const finish = (task) => {
      onChange(task);
      if (!isFinal(task.status) || done) return;
      done = true;
      unsubscribe();
      clearInterval(poll);
      resolve(task);
    };
    const unsubscribe = subscribe((kind, task) => { if (kind === "task" && task.task_id === taskId) finish(task); });
    const check = () => request(`tasks/${taskId}`).then((answer) => finish(answer.task)).catch(() => {});
    const poll = setInterval(check, 5000);
    check();
  });
}

// Start a task (a v1 endpoint answering 201 with task_id) and wait for it; its data, or an ApiError.
export async function runTask(path, options, onChange) {
  const created = await request(path, options);
  const task = await waitForTask(created.task_id, onChange);
  if (["400", "115", "118"].includes(String(task.status))) {
    throw new ApiError(400, typeof task.data === "string" ? task.data : JSON.stringify(task.data));
  }
  return task.data;
}

// A task's state as a coloured word: finished well, failed, or on its way.
export function taskState(task) {
  const status = String(task.status);
  const tone = ["200", "114", "117"].includes(status) ? "state-ok"
    : ["400", "115", "118"].includes(status) ? "state-error" : "state-progress";
  return el("span", { class: `state ${tone}` }, task.description);
}

// --- what is down ----------------------------------------------------------------------------------

const banner = document.getElementById("banner");
const problems = new Map();

export function reportProblem(key, message) {
  if (message) problems.set(key, message); else problems.delete(key);
  replace(banner, [...problems.values()].map((text) => el("div", { class: "alert alert-warning", role: "alert" }, text)));
}

// The systems' and services' health (status/systems, status/services); the banner names what is down.
export async function health() {
  try {
    const [systems, services] = await Promise.all([request("status/systems"), request("status/services")]);
    for (const system of systems.out || []) {
      reportProblem(`system:${system.system}`, system.status === "available" ? null
        : `${system.system} is not available right now: ${system.description}. What needs it says so; the rest works.`);
    }
    const storage = (services.out || []).find((service) => service.service === "storage");
    reportProblem("storage", !storage || storage.status === "available" ? null
      : `Large transfers through the object store are not possible right now: ${storage.description}.`);
    reportProblem("health", null);
    return { systems: systems.out || [], services: services.out || [] };
  } catch (error) {
    reportProblem("health", `The systems' status is not known: ${error.message}`);
    return { systems: [], services: [] };
  }
}

// Every page asks once when it loads; pages that show the health use this answer.
export const healthReport = health();

// The systems' health as the items of the list `box`: a coloured word, the name, the description.
export async function showSystemsHealth(box) {
  const { systems } = await healthReport;
  replace(box, systems.length ? systems.map((system) => {
    const up = system.status === "available";
    return el("li", { class: "mb-1" }, el("span", { class: `state ${up ? "state-ok" : "state-error"}` },
      up ? "● available" : "● unavailable"), " ", el("strong", {}, system.system), " ",
    el("span", { class: "text-body-secondary" }, system.description));
  }) : el("li", {}, "No system answered."));
}

// An error in plain words next to what failed.
export function showError(container, error) {
  const message = error instanceof ApiError || error instanceof Error ? error.message : String(error);
  const node = el("div", { class: "alert alert-danger py-2 my-2", role: "alert" }, message);
  container.prepend(node);
  return node;
}
