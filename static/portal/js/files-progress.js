// One upload or download in the files page's list: its name, a progress bar, what is happening in words,
// and a cancel button while it runs. data-state (running, done, failed, cancelled) tells tests and styles.
import { el, formatBytes, replace } from "./dom.js";

const list = document.getElementById("files-transfers");
// Progress arrives many times a second per request; the page redraws it at most this often, so that the
// browser spends its CPU on sending the bytes, not on drawing how many it sent.
const REDRAW_EVERY_MS = 250;
const section = document.getElementById("files-activity");

export class Cancelled extends Error {
  constructor() { super("Cancelled."); }
}

export class ProgressItem {
  // `verb` says what it is ("Upload", "Download"); cancelling aborts `signal`, which the work listens to.
  constructor(verb, name, size, { cancellable = true } = {}) {
    this.aborter = new AbortController();
    this.bar = el("div", { class: "progress-bar" });
    this.meter = el("div", { class: "progress files-progress", role: "progressbar", "aria-label": `${verb} of ${name}`,
      "aria-valuemin": 0, "aria-valuemax": 100, "aria-valuenow": 0 }, this.bar);
    this.state = el("div", { class: "small files-transfer-state", role: "status" }, "Starting…");
    this.cancel = !cancellable ? null : el("button", { type: "button", class: "btn btn-sm btn-outline-secondary",
      "aria-label": `Cancel the ${verb.toLowerCase()} of ${name}`, onclick: () => this.aborter.abort() }, "Cancel");
    this.extra = el("div", { class: "files-transfer-extra" });
    this.node = el("li", { class: "list-group-item files-transfer", dataset: { name, state: "running", verb } },
      el("div", { class: "d-flex align-items-center gap-2 flex-wrap" },
        el("span", { class: "fw-semibold text-break flex-grow-1 files-transfer-name" }, `${verb}: ${name}`),
        el("span", { class: "text-body-secondary small" }, formatBytes(size)), this.cancel),
      this.meter, this.state, this.extra);
    list.prepend(this.node);
    section.hidden = false;
  }

  get signal() { return this.aborter.signal; }
  get cancelled() { return this.aborter.signal.aborted; }

  // The latest progress is drawn at once, then at most every REDRAW_EVERY_MS.
  show(done, total, words) {
    this.latest = [done, total, words];
    if (this.redraw) return;
    this.draw();
    this.redraw = setTimeout(() => {
      this.redraw = null;
      if (this.latest) this.draw();
    }, REDRAW_EVERY_MS);
  }

  draw() {
    const [done, total, words] = this.latest;
    this.latest = null;
    const percent = total > 0 ? Math.min(100, Math.round((100 * done) / total)) : 0;
    this.bar.style.width = `${percent}%`;
    this.meter.setAttribute("aria-valuenow", String(percent));
    this.state.textContent = `${words}: ${formatBytes(done)} of ${formatBytes(total)} (${percent}%)`;
  }

  // A step without byte counts (waiting for the store's URLs, the system starting its side).
  step(words) {
    this.latest = null;  // what was sent before this step is no longer news
    this.state.textContent = words;
  }

  finish(state, words, ...extra) {
    clearTimeout(this.redraw);
    this.latest = null;
    this.node.dataset.state = state;
    this.cancel?.remove();
    this.meter.classList.toggle("files-progress-ended", state !== "done");
    if (state === "done") {
      this.bar.style.width = "100%";
      this.meter.setAttribute("aria-valuenow", "100");
    }
    this.state.className = `small files-transfer-state ${state === "failed" ? "error-text" : ""}`;
    this.state.textContent = words;
    replace(this.extra, extra);
  }
}
