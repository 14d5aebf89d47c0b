// Uploads from the browser, several at once, each with its progress and a cancel button. Files up to
// settings.maxFileSize go through the service (utilities/upload). Larger ones are staged: the task hands
// out presigned URLs (v1's POST form, or above the multipart threshold part URLs), the browser sends the
// bytes straight to the object store (parts several at once) and the system fetches them from there.
import { ApiError, request, settings, waitForTask } from "./api.js";
import { Cancelled, ProgressItem } from "./files-progress.js";
import { taskReason } from "./staging-words.js";

const URL_RECEIVED = "111";
const UPLOADED = "114";
const PART_URLS_PER_REQUEST = 100;
const PART_ATTEMPTS = 3;

// The answer's reason in words: the service's JSON description, or the object store's XML <Message>.
function reason(xhr) {
  try {
    const body = JSON.parse(xhr.responseText);
    if (body && body.description) return body.description;
  } catch { /* not JSON: the object store answers XML */ }
  const message = /<Message>([^<]*)<\/Message>/.exec(xhr.responseText || "");
  return message ? `the object store refused the upload: ${message[1]}` : `the upload failed (${xhr.status})`;
}

// One XHR (fetch reports no upload progress); resolves with it, rejects with ApiError or Cancelled.
function send(method, url, body, { headers = {}, onProgress = () => {}, signal }) {
  return new Promise((resolve, reject) => {
    if (signal.aborted) { reject(new Cancelled()); return; }
    const xhr = new XMLHttpRequest();
    xhr.open(method, url);
    for (const [name, value] of Object.entries(headers)) xhr.setRequestHeader(name, value);
    xhr.upload.addEventListener("progress", (event) => onProgress(event.loaded));
    xhr.addEventListener("load", () => (xhr.status < 300 ? resolve(xhr) : reject(new ApiError(xhr.status, reason(xhr)))));
    xhr.addEventListener("error", () => reject(new ApiError(0, `${new URL(url).host} does not answer`)));
    xhr.addEventListener("abort", () => reject(new Cancelled()));
    signal.addEventListener("abort", () => xhr.abort());
    xhr.send(body);
  });
}

async function direct(item, file, system, directory) {
  const form = new FormData();
  form.append("targetPath", directory);
  form.append("file", file, file.name);
  await send("POST", settings.api + "utilities/upload", form, {
    headers: { "X-XSRFToken": settings.xsrf, "X-Machine-Name": system }, signal: item.signal,
    onProgress: (sent) => item.show(sent, file.size, "Sending") });
}

// Sends `work(part)` for each part, at most `width` at once; the first failure ends them all.
async function inParallel(parts, width, work) {
  let next = 0;
  const lane = async () => { while (next < parts.length) await work(parts[next++]); };
  await Promise.all(Array.from({ length: Math.min(width, parts.length) }, lane));
}

async function sendParts(item, file, system, taskId, multipart) {
  const headers = { "X-Task-Id": taskId };
  const sent = new Map();
  const progress = () => item.show([...sent.values()].reduce((sum, bytes) => sum + bytes, 0), file.size,
    "Sending to the object store");
  const sendPart = async (part) => {
    for (let attempt = 1; ; attempt += 1) {
      try {
        await send("PUT", part.url, file.slice(part.offset, part.offset + part.size), { signal: item.signal,
          onProgress: (bytes) => { sent.set(part.part_number, bytes); progress(); } });
        sent.set(part.part_number, part.size);
        return;
      } catch (error) {
        // A dropped connection is worth another try; a refusal or a cancel is not.
        if (error instanceof Cancelled || error.status !== 0 || attempt === PART_ATTEMPTS) throw error;
      }
    }
  };
  for (let first = 1; first <= multipart.part_count; first += PART_URLS_PER_REQUEST) {
    const { parts } = await request(multipart.parts.replace(/^\//, ""), { system, headers, signal: item.signal,
      params: { first, count: PART_URLS_PER_REQUEST } });
    await inParallel(parts, settings.parallelParts, sendPart);
  }
  await request(multipart.complete.replace(/^\//, ""), { method: "POST", system, headers, signal: item.signal });
}

async function sendForm(item, file, parameters) {
  const form = new FormData();
  for (const [name, value] of Object.entries(parameters.data)) form.append(name, value);
  form.append("file", file, file.name);
  await send("POST", parameters.url, form, { signal: item.signal,
    onProgress: (bytes) => item.show(bytes, file.size, "Sending to the object store") });
}

async function staged(item, file, system, directory) {
  const created = await request("storage/xfer-external/upload", { method: "POST", system,
    form: { sourcePath: file.name, targetPath: directory, size: file.size } });
  const taskId = created.task_id;
  const invalidate = () => request("storage/xfer-external/invalidate", { method: "POST", system,
    headers: { "X-Task-Id": taskId } }).catch(() => {});
  if (item.cancelled) { await invalidate(); throw new Cancelled(); }
  item.signal.addEventListener("abort", invalidate);
  item.step("Asking the object store for upload links…");
  let sending = null;
  let sent = false;
  const task = await waitForTask(taskId, (task) => {
    const data = task.data && typeof task.data === "object" ? task.data : {};
    // Once cancelled, nothing more is asked of a task that is being invalidated.
    if (String(task.status) === URL_RECEIVED && !sending && data.msg && !item.cancelled) {
      const msg = data.msg;
      sending = (msg.multipart ? sendParts(item, file, system, taskId, msg.multipart)
        : sendForm(item, file, msg.parameters)).then(
        () => { sent = true; item.step("Sent; the system is fetching the file…"); },
        (error) => { invalidate(); throw error; });
      sending.catch(() => {});  // awaited below, once the task has ended
    } else if (sent && data.bytes_total && Number(task.status) > Number(URL_RECEIVED)) {
      // The system takes parts while the browser sends others; the bar shows the sending until it is done.
      item.show(Number(data.bytes_done) || 0, Number(data.bytes_total), "Moving onto the system");
    }
  });
  if (sending) await sending;
  if (String(task.status) !== UPLOADED) {
    throw new ApiError(400, taskReason(task));
  }
}

// Upload `files` (a FileList or array) into `directory` of `system`; onDone() after each success.
export function uploadFiles(files, system, directory, onDone) {
  for (const file of files) {
    const item = new ProgressItem("Upload", file.name, file.size);
    const way = file.size <= settings.maxFileSize ? direct : staged;
    way(item, file, system, directory).then(() => {
      item.finish("done", `Uploaded to ${directory}.`);
      onDone();
    }, (error) => {
      if (item.cancelled || error instanceof Cancelled) item.finish("cancelled", "Cancelled.");
      else item.finish("failed", `Not uploaded: ${error.message}`);
    });
  }
}
