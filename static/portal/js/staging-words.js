// What a staging task's state means for the person who started it, in plain words (v1's own
// descriptions speak from the system's side: an upload is "Download from Object Storage to server").
const WORDS = {
  "xfer-external-upload": { 110: "Preparing the upload", 111: "Waiting for your file", 112: "In the object store",
    113: "Moving onto the system", 114: "Uploaded", 115: "Upload failed" },
  "xfer-external-download": { 116: "The system is staging it", 117: "Ready to save", 118: "Download failed" },
};

// The reason the service gives a transfer its owner cancelled (staging/external.py's INVALIDATED).
export const CANCELLED = "invalidated by its owner";

export function stateWords(task) {
  if (taskReason(task) === CANCELLED) return "Cancelled";
  return (WORDS[task.kind] || {})[task.status] || task.description;
}

// Why a task failed: v1 puts the reason in `data` (a string) or in `data.msg`.
export function taskReason(task) {
  const data = task.data;
  if (typeof data === "string") return data;
  if (data && typeof data.msg === "string") return data.msg;
  return task.description;
}
