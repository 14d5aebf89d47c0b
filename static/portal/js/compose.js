// The job composer: a script from the admin's templates, the system's partitions (with their limits) and
// my Slurm accounts; submit through compute/jobs/upload, then the job's page. Slurm's refusal is shown
// next to the script.
import { request, runTask } from "./api.js";
import { el, replace } from "./dom.js";
import { currentSystem, jobUrl, systemPicker } from "./jobs-common.js";
import { readDirective, setDirective } from "./jobs-script.js";

const $ = (id) => document.getElementById(id);
const form = $("compose-form");
const templates = JSON.parse(form.dataset.templates);
const script = $("script");
const nameInput = $("job-name");
const partitionSelect = $("partition");
const accountSelect = $("account");
let system = currentSystem();
let partitions = [];

function useTemplate(index) {
  const template = templates[index];
  if (!template) return;
  script.value = template.script;
  replace($("template-description"), template.description || "");
  fromScript();
}

// The form follows the script's own #SBATCH lines, so the two never disagree.
function fromScript() {
  nameInput.value = readDirective(script.value, "job-name") || "";
  const partition = readDirective(script.value, "partition") || "";
  if (partition && ![...partitionSelect.options].some((option) => option.value === partition)) {
    partitionSelect.append(el("option", { value: partition }, `${partition} (not offered here)`));
  }
  partitionSelect.value = partition;
  showLimits();
}

function showLimits() {
  const partition = partitions.find((item) => item.name === partitionSelect.value)
    || partitions.find((item) => item.default);
  replace($("partition-limits"), partition ? [
    `${partition.name}${partition.default ? " (default)" : ""}: up to ${partition.max_time} per job`,
    partition.default_time ? `, ${partition.default_time} unless the script says; ` : "; ",
    `${partition.cpus_idle} of ${partition.cpus_total} CPUs and ${partition.nodes_idle} of ${partition.nodes_total} nodes free`,
    partition.state !== "UP" ? ` — the partition is ${partition.state}` : "",
  ] : "");
}

async function loadPartitions() {
  try {
    partitions = (await request("partitions", { params: { system }, data: true })).partitions;
    const chosen = partitionSelect.value;
    replace(partitionSelect, el("option", { value: "" }, "The system's default"),
      partitions.map((partition) => el("option", { value: partition.name },
        `${partition.name}${partition.default ? " (default)" : ""} — max ${partition.max_time}`)));
    partitionSelect.value = chosen;
    fromScript();
  } catch (error) {
    replace($("partition-limits"), el("span", { class: "error-text" }, `Partitions: ${error.message}`));
  }
}

async function loadAccounts() {
  try {
    const { accounts } = await request("accounts", { params: { system }, data: true });
    const names = [...new Set(accounts.map((account) => account.name))];
    const fallback = accounts.find((account) => account.default);
    replace(accountSelect, el("option", { value: "" }, fallback ? `My default (${fallback.name})` : "My default account"),
      names.map((name) => el("option", { value: name }, name)));
  } catch (error) {
    accountSelect.after(el("span", { class: "small error-text" }, `Accounts: ${error.message}`));
  }
}

function showRejection(message) {
  replace($("submit-error"), el("div", { class: "alert alert-danger", role: "alert" },
    el("strong", {}, "Slurm did not accept the job: "), el("span", { class: "rejection" }, message)));
  script.classList.add("is-invalid");
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  replace($("submit-error"));
  script.classList.remove("is-invalid");
  if (!script.value.trim()) {
    showRejection("the script is empty.");
    return;
  }
  const button = $("submit-job");
  button.disabled = true;
  replace($("submit-status"), "Submitting…");
  const body = new FormData();
  const fileName = `${(nameInput.value || "job").replace(/[^A-Za-z0-9_.-]+/g, "_")}.sh`;
  body.append("file", new Blob([script.value], { type: "text/x-shellscript" }), fileName);
  if (accountSelect.value) body.append("account", accountSelect.value);
  try {
    const data = await runTask("compute/jobs/upload", { method: "POST", system, form: body },
      () => replace($("submit-status"), "Submitted, waiting for Slurm…"));
    replace($("submit-status"), `Job ${data.jobid} submitted; opening its page…`);
    window.location.assign(jobUrl(system, data.jobid));
  } catch (error) {
    replace($("submit-status"));
    showRejection(error.message);
    script.focus();
  } finally {
    button.disabled = false;
  }
});

replace($("template"), templates.map((template, index) => el("option", { value: index }, template.name)));
$("template").addEventListener("change", (event) => useTemplate(Number(event.target.value)));
script.addEventListener("input", fromScript);
nameInput.addEventListener("change", () => { script.value = setDirective(script.value, "job-name", nameInput.value.trim()); });
partitionSelect.addEventListener("change", () => {
  script.value = setDirective(script.value, "partition", partitionSelect.value);
  showLimits();
});
systemPicker($("system-picker"), (chosen) => { system = chosen; loadPartitions(); loadAccounts(); });
useTemplate(0);
loadPartitions();
loadAccounts();
