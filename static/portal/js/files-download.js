// Downloads: a file up to settings.maxFileSize comes through the service (utilities/download) and is
// saved at once; a larger one is staged: the system pushes it to the object store (its progress shown
// meanwhile) and the page then offers the presigned link, which fetches it straight from the store.
import { ApiError, request, settings, waitForTask } from "./api.js";
import { el } from "./dom.js";
import { ProgressItem } from "./files-progress.js";
import { taskReason } from "./staging-words.js";

const STAGED = "117";

function save(href, name) {
  const link = el("a", { href, download: name, class: "d-none" });
  document.body.append(link);
  link.click();
  link.remove();
}

async function direct(system, path, name) {
  const response = await request("utilities/download", { system, params: { sourcePath: path }, raw: true });
  const url = URL.createObjectURL(await response.blob());
  save(url, name);
  // The browser has the file once the click is handled; the object URL may go after that.
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

async function staged(item, system, path, name) {
  const created = await request("storage/xfer-external/download", { method: "POST", system,
    form: { sourcePath: path } });
  item.signal.addEventListener("abort", () => request("storage/xfer-external/invalidate", { method: "POST", system,
    headers: { "X-Task-Id": created.task_id } }).catch(() => {}));
  item.step("The system is putting the file into the object store…");
  const task = await waitForTask(created.task_id, (update) => {
    const data = update.data && typeof update.data === "object" ? update.data : {};
    if (data.bytes_total && String(update.status) !== STAGED) {
      item.show(Number(data.bytes_done) || 0, Number(data.bytes_total), "The system is staging it");
    }
  });
  if (String(task.status) !== STAGED || !task.data || !task.data.url) {
    throw new ApiError(400, taskReason(task));
  }
  return task.data;
}

export function download(system, path, entry) {
  const name = entry.name;
  const small = entry.bytes <= settings.maxFileSize;
  const item = new ProgressItem("Download", name, entry.bytes, { cancellable: !small });
  if (small) {
    item.step("Downloading through the service…");
    direct(system, path, name).then(() => item.finish("done", "Saved by your browser."),
      (error) => item.finish("failed", `Not downloaded: ${error.message}`));
    return;
  }
  staged(item, system, path, name).then((data) => {
    const minutes = Math.max(1, Math.floor((data.expires_in || 0) / 60));
    item.finish("done", `Ready: the link works for about ${minutes} minutes.`,
      el("a", { class: "btn btn-sm btn-success files-download-link", href: data.url, rel: "noreferrer" },
        `Save ${name}`));
  }, (error) => {
    if (item.cancelled) item.finish("cancelled", "Cancelled.");
    else item.finish("failed", `Not downloaded: ${error.message}`);
  });
}
