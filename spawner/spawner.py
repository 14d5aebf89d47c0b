"""FirecrestSpawner: each user's JupyterLab as their own Slurm job, through firecrest_hub's compute layer.

It keeps batchspawner's Slurm job-state machine (the job id in the spawner state; pending, running and
unknown states; `poll()` that keeps a server whose state is unknown; the start timeout; cancel on
stop) and replaces every scheduler call: `sbatch` and `scancel` run as the user over SSH with a
certificate signed for them, and every job-state read comes from the hub's shared job-state cache,
one `squeue` per interval for all servers. Of batchspawner's own options it uses `batch_script` (a
Jinja2 template of its own), `req_prologue`, `req_epilogue`, `req_options` and
`startup_poll_interval`; setting any other (its commands such as `exec_prefix`, its job-state regular
expressions, its `req_*` resources) is an error that names what to configure instead.

The notebook reaches the hub with the port it listens on through `port_report.py`; the node it runs
on comes from Slurm, never from the job.
"""

from __future__ import annotations

import asyncio
import re
import shlex
import time
from pathlib import Path

import asyncssh
import jinja2
from batchspawner import JobStatus, SlurmSpawner
from jupyterhub.spawner import SpawnException
from jupyterhub.utils import fmt_ip_url, url_path_join
from sqlalchemy import inspect
from tornado.httpclient import AsyncHTTPClient, HTTPClientError
from traitlets import Dict, Float, Integer, List, TraitError, TraitType, Unicode, default, validate

from firecrest_hub.compute import Job, JobRequest
from firecrest_hub.compute.validation import check_env_name
from firecrest_hub.errors import FirecrestError, InvalidInput, PermissionDenied, SubmissionRejected, UnknownJob
from firecrest_hub.remote import read_tail

from . import port_report
from .backend import allowed_partitions, backend_for
from .form import render_options_form
from .options import KNOWN_OPTIONS, JobOptions, choose_system, validate_options
from .progress import progress_event

HERE = Path(__file__).resolve().parent

# Slurm states in which the job has not started its batch script yet, or has paused it.
WAITING_STATES = {"PENDING", "CONFIGURING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "RESIZING",
                  "SUSPENDED", "STOPPED"}
# Hub-side variables that only an old singleuser server reads; everything else in get_env() is needed.
_NOT_EXPORTED = {"JPY_API_TOKEN"}


class SpawnFailure(SpawnException):
    """A spawn that failed for a reason the user can act on; the message is shown as it is."""

    def __init__(self, message: str, *, reason: str, status_code: int = 400):
        super().__init__(message, reason=reason, status_code=status_code)
        # What the hub's pages and progress events show, instead of "400 SpawnException(...)".
        self.jupyterhub_message = message


def _cluster_failure(error: FirecrestError, doing: str) -> SpawnFailure:
    """A refusal of the account policy is the user's to hear as such; anything else is the cluster's."""
    if isinstance(error, PermissionDenied):
        return SpawnFailure(f"You cannot run notebook servers here: {error.description}", reason="account-denied",
                            status_code=403)
    return SpawnFailure(f"{doing}: {error.description}", reason="cluster-unavailable", status_code=503)


class UnusedOption(TraitType):
    """An option inherited from batchspawner that FirecrestSpawner does not use. Setting it (in any
    config section the spawner reads: FirecrestSpawner, SlurmSpawner, BatchSpawnerBase, Spawner) is an
    error that says what to configure instead, rather than a setting accepted and silently ignored."""

    def __init__(self, instead: str):
        super().__init__(None, help=f"Not used by FirecrestSpawner, and refused: {instead}.", config=True)
        self.instead = instead

    def validate(self, obj, value):
        if value is None:  # the default: traitlets validates it too, whenever the option is read
            return value
        raise TraitError(f"FirecrestSpawner does not use batchspawner's {self.name}; {self.instead}")


_JOB_STATES_FROM_THE_CACHE = ("job states and nodes come from the shared job-state cache (c.JobStateCache.interval), "
                              "and c.FirecrestSpawner.node_addresses maps node names to addresses")


class FirecrestSpawner(SlurmSpawner):
    """Starts JupyterLab as a Slurm job of the user, on the system and partition they choose."""

    # --- batchspawner's options that have no effect here (see UnusedOption) ---------------------------
    exec_prefix = UnusedOption("sbatch and scancel run as the user over SSH with a certificate of "
                               "c.CertificateAuthority, on the login node of the system in c.Systems.systems")
    batch_submit_cmd = UnusedOption("the job is submitted with sbatch over the user's SSH connection, within "
                                    "c.SlurmScheduler.command_timeout")
    batch_query_cmd = UnusedOption(_JOB_STATES_FROM_THE_CACHE)
    batch_cancel_cmd = UnusedOption("stop() cancels the job with scancel as the user, trying for "
                                    "c.FirecrestSpawner.stop_timeout")
    state_pending_re = UnusedOption(_JOB_STATES_FROM_THE_CACHE)
    state_running_re = UnusedOption(_JOB_STATES_FROM_THE_CACHE)
    state_unknown_re = UnusedOption(_JOB_STATES_FROM_THE_CACHE)
    state_exechost_re = UnusedOption(_JOB_STATES_FROM_THE_CACHE)
    state_exechost_exp = UnusedOption(_JOB_STATES_FROM_THE_CACHE)
    req_queue = UnusedOption("use c.FirecrestSpawner.option_defaults['partition'] (and .partitions) instead")
    req_partition = UnusedOption("use c.FirecrestSpawner.option_defaults['partition'] (and .partitions) instead")
    req_nprocs = UnusedOption("use c.FirecrestSpawner.option_defaults['cpus'] instead")
    req_memory = UnusedOption("use c.FirecrestSpawner.option_defaults['memory'] instead")
    req_ngpus = UnusedOption("use c.FirecrestSpawner.option_defaults['gpus'] instead")
    req_gres = UnusedOption("use c.FirecrestSpawner.option_defaults['gpus'] for GPUs, c.FirecrestSpawner.req_options "
                            "for other generic resources")
    req_runtime = UnusedOption("use c.FirecrestSpawner.option_defaults['runtime'] instead")
    req_account = UnusedOption("use c.FirecrestSpawner.option_defaults['account'] instead")
    req_reservation = UnusedOption("use c.FirecrestSpawner.option_defaults['reservation'] instead")
    req_qos = UnusedOption("add --qos=... to c.FirecrestSpawner.req_options instead")
    req_host = UnusedOption("the login node is the system's host in c.Systems.systems")
    req_cluster = UnusedOption("declare each cluster in c.Systems.systems (c.FirecrestSpawner.default_system is "
                               "preselected)")
    req_srun = UnusedOption("the server runs as c.FirecrestSpawner.batch_script says: change the template instead")
    req_keepvars_extra = UnusedOption("the job gets the variables of c.Spawner.environment and c.Spawner.env_keep, "
                                      "exported by the batch script")
    batchspawner_singleuser_cmd = UnusedOption("use c.FirecrestSpawner.launcher instead")

    # --- batchspawner's options that it uses ----------------------------------------------------------
    req_prologue = Unicode(
        help="Shell lines the batch script runs before the server (e.g. `module load ...`).",
    ).tag(config=True)

    req_epilogue = Unicode(help="Shell lines the batch script runs after the server ended.").tag(config=True)

    req_options = Unicode(
        help="""Further sbatch options for the notebook job, on one `#SBATCH` line of the batch script
        (e.g. "--qos=interactive --constraint=mc").""",
    ).tag(config=True)

    startup_poll_interval = Float(
        0.5,
        min=0.1,
        help="""Seconds between two looks at the starting job (in the shared job-state cache, which reads
        no queue) and at whether JupyterLab answers.""",
    ).tag(config=True)

    # --- FirecrestSpawner's own options ---------------------------------------------------------------

    notebook_env = Unicode(
        "/opt/firecrest-hub/notebook",
        help="""The Python environment on the compute nodes that runs the notebook server
        (devcluster/notebook-env.sh builds one). Every user must be able to read and execute it.""",
    ).tag(config=True)

    @default("cmd")
    def _default_cmd(self):
        # Absolute: since JupyterHub 5.2 the job gets no PATH from the hub.
        return [f"{self.notebook_env}/bin/jupyterhub-singleuser"]

    launcher = Unicode(
        help="""Command that reports the server's port to the hub and then runs `cmd`; by default
        `firecrest-singleuser` of `notebook_env` (spawner/launcher.py).""",
    ).tag(config=True)

    @default("launcher")
    def _default_launcher(self):
        return f"{self.notebook_env}/bin/firecrest-singleuser"

    batch_script = Unicode(
        help="""Jinja2 template of the job script (default: spawner/batch_script.sh). It sees `options`
        (the validated JobOptions: cpus, memory in MiB, gpus, ...), `environment` (the variables the
        server needs), `command` (a list: quote each word with the `quote` filter), `notebook_env`,
        `log_file`, and the administrator's `prologue`, `epilogue` and `extra_directives`
        (req_prologue, req_epilogue, req_options). Partition, account, nodes, runtime and
        reservation are passed to sbatch as options, not through the script.""",
    ).tag(config=True)

    @default("batch_script")
    def _default_batch_script(self):
        return (HERE / "batch_script.sh").read_text()

    job_name = Unicode("jupyterhub-notebook", help="Slurm job name of notebook jobs.").tag(config=True)

    log_dir = Unicode(
        ".firecrest-hub",
        help="""Directory, relative to the user's home, for the jobs' output files
        (notebook-JOBID.log); made (mode 0700) at the first start.""",
    ).tag(config=True)

    @validate("log_dir")
    def _validate_log_dir(self, proposal):
        value = proposal["value"]
        if value.startswith("/") or ".." in value.split("/") or not re.fullmatch(r"[A-Za-z0-9_./-]+", value):
            raise TraitError("log_dir must be a plain path relative to the home directory")
        return value

    option_defaults = Dict(
        {"nodes": 1, "cpus": 1, "memory": "2G", "gpus": 0, "runtime": "01:00:00"},
        help="""Defaults of the job options a user does not give (any of system, partition, account,
        nodes, cpus, memory, gpus, runtime, reservation). Numbers are lowered to the partition's
        limits where they exceed them. Partition defaults to the system's default partition.""",
    ).tag(config=True)

    settable_options = List(
        Unicode(),
        list(KNOWN_OPTIONS),
        help="""The options users may choose (from the form or the REST API); the others always take
        their default. A subset of: """ + ", ".join(KNOWN_OPTIONS),
    ).tag(config=True)

    @validate("option_defaults", "settable_options")
    def _validate_option_names(self, proposal):
        unknown = set(proposal["value"]) - set(KNOWN_OPTIONS)
        if unknown:
            raise TraitError(f"{proposal['trait'].name} has unknown options: {', '.join(sorted(unknown))}")
        return proposal["value"]

    partitions = List(
        Unicode(),
        help="""Partitions users may choose. Empty: every partition of the system except its
        transfer partition.""",
    ).tag(config=True)

    default_system = Unicode(help="System of new notebooks; by default the first configured one.").tag(config=True)

    node_addresses = Dict(
        Unicode(),
        help="""Address the proxy uses for a Slurm node name, where the name itself does not resolve
        to the address the server listens on (e.g. {"localhost": "127.0.0.1"}).""",
    ).tag(config=True)

    limits_max_age = Float(
        60, min=0, help="Seconds the partitions, their limits and the reservations of a system are reused.",
    ).tag(config=True)

    stop_timeout = Float(
        30, min=0, help="Seconds stop() keeps trying to cancel the job and to see it leave the running state.",
    ).tag(config=True)

    output_tail_bytes = Integer(
        2000, min=0, help="Bytes of the job's output shown when it ends before the server started.",
    ).tag(config=True)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.job_system = ""
        self.job_options: JobOptions | None = None
        self.remembered_options: dict = {}
        self.job: Job | None = None
        self.scheduler_problem = ""
        self._submitted_at: float | None = None
        self._awaiting_port = False

    @default("options_form")
    def _default_options_form(self):
        return render_options_form

    @default("options_from_form")
    def _default_options_from_form(self):
        return self.options_from_form_data

    @default("apply_user_options")
    def _default_apply_user_options(self):
        return apply_validated_options

    @property
    def backend(self):
        return backend_for(self.config)

    async def session(self):
        """The user's session on the system of their job (state from before job_system: the first)."""
        backend = self.backend
        return await backend.session(self.user.name, backend.system(self.job_system or self.system_names()[0]))

    def system_names(self) -> list[str]:
        names = [system.name for system in self.backend.systems.all()]
        if self.default_system in names:
            names.remove(self.default_system)
            names.insert(0, self.default_system)
        return names

    # --- user options ---------------------------------------------------------------------------------

    async def validate_user_options(self, user_options: dict) -> JobOptions:
        """`user_options` checked against the allow-list and the chosen partition, or a 400."""
        try:
            names = self.system_names()
            system_name = choose_system(user_options, names, names[0])
            system = self.backend.system(system_name)
            session = await self.backend.session(self.user.name, system)
            offer = await self.backend.offer(session, self.limits_max_age)
            return validate_options(
                user_options, system=system_name,
                partitions=allowed_partitions(offer, system, self.partitions),
                default_partition=self.option_defaults.get("partition") or system.default_partition,
                defaults=self.option_defaults, settable=self.settable_options,
                reservations=offer.reservations,
            )
        except InvalidInput as error:
            raise SpawnFailure(f"Invalid options: {error.description}", reason="invalid-options") from None
        except FirecrestError as error:
            raise _cluster_failure(error, "The cluster cannot be asked for its partitions right now") from None

    async def options_from_form_data(self, form_data: dict) -> dict:
        """The form's fields (lists of strings) as validated options; empty fields take defaults."""
        given = {key: values[0] for key, values in form_data.items() if values and _filled(values[0])}
        return (await self.validate_user_options(given)).as_user_options()

    async def _run_apply_user_options(self, user_options):
        # JupyterHub logs a traceback for whatever apply_user_options raises, although it documents a
        # SpawnException as logged without one. Refused options are the user's mistake: raised as they
        # are, the hub logs them in one line ("Not starting ...") and answers 400 with the message.
        if self.apply_user_options is apply_validated_options:
            await apply_validated_options(self, user_options)
        else:
            await super()._run_apply_user_options(user_options)

    # --- state ----------------------------------------------------------------------------------------

    def load_state(self, state):
        super().load_state(state)
        self.job_system = state.get("job_system", "")
        self.remembered_options = state.get("remembered_options", {})

    def get_state(self):
        state = super().get_state()
        if self.job_system:
            state["job_system"] = self.job_system
        if self.remembered_options:
            state["remembered_options"] = self.remembered_options
        return state

    def clear_state(self):
        """Forget the job; keep the options of the last start, which the form offers again."""
        super().clear_state()
        self.job_system = ""
        self.job_options = None
        self.job = None
        self.scheduler_problem = ""
        self._submitted_at = None

    def save_state(self) -> None:
        """Store the job id now, not when start() returns: a hub that dies while the job is queued
        must find it after its restart, to resume or cancel it."""
        if self.orm_spawner is not None:
            self.orm_spawner.state = self.get_state()
            db = inspect(self.orm_spawner).session
            if db is not None:
                db.commit()

    # --- the job --------------------------------------------------------------------------------------

    def user_env(self, env):
        # batchspawner reads USER, HOME and SHELL from the hub host's passwd, where cluster users need
        # not exist; the job gets the right ones from the login node's session instead.
        return env

    def job_environment(self) -> dict[str, str]:
        """What the server needs from the hub (its token, URLs, OAuth client), exported by the script."""
        environment = {key: str(value) for key, value in self.get_env().items() if key not in _NOT_EXPORTED}
        for name in environment:
            check_env_name(name)  # a name cannot be quoted in `export NAME=...`; values are
        return environment

    def log_file(self, jobid: str = "%j") -> str:
        return f"{self.log_dir}/notebook-{jobid}.log"

    def render_batch_script(self, options: JobOptions) -> str:
        environment = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
        environment.filters["quote"] = shlex.quote
        return environment.from_string(self.batch_script).render(
            options=options,
            environment=self.job_environment(),
            command=[self.launcher, *self.cmd, *self.get_args()],
            notebook_env=self.notebook_env,
            log_file=self.log_file(),
            prologue=self.req_prologue,
            epilogue=self.req_epilogue,
            extra_directives=self.req_options,
        )

    async def start(self):
        options = self.job_options or await self.validate_user_options(self.user_options)
        self.job_options, self.job_system, self.port = options, options.system, 0
        try:
            session = await self.session()
        except FirecrestError as error:
            raise _cluster_failure(error, f"{options.system} cannot be reached right now") from None
        # From here on: the job may report its port even before sbatch has answered us.
        self._awaiting_port = True
        try:
            self.job_id = await self.submit_job(session, options)
            self._submitted_at = time.monotonic()
            self.remembered_options = options.as_user_options()
            self.save_state()
            self.log.info("Submitted notebook job %s of %s to %s (%s)", self.job_id, self._log_name, options.system,
                          ", ".join(f"{key}={value}" for key, value in self.remembered_options.items() if value))
            return await self._wait_until_answering(session)
        finally:
            self._awaiting_port = False

    async def submit_job(self, session, options: JobOptions) -> str:
        request = JobRequest(
            script=self.render_batch_script(options), name=self.job_name, account=options.account or None,
            partition=options.partition, time_limit=options.time_limit, nodes=options.nodes,
            reservation=options.reservation or None,
        )
        try:
            sftp = await session.sftp()
            await sftp.makedirs(self.log_dir, attrs=asyncssh.SFTPAttrs(permissions=0o700), exist_ok=True)
            return await self._submit_shielded(session, request)
        except SubmissionRejected as error:
            raise SpawnFailure(f"Slurm refused the notebook job: {error.description}", reason="job-rejected") from None
        except FirecrestError as error:
            raise SpawnFailure(f"The notebook job could not be submitted to {options.system}: {error.description}",
                               reason="cluster-unavailable", status_code=503) from None
        except asyncssh.SFTPError as error:
            raise SpawnFailure(f"The directory ~/{self.log_dir} for the job's output cannot be made: {error.reason}",
                               reason="log-dir") from None

    async def _wait_until_answering(self, session) -> tuple[str, int]:
        """Wait for the job to run, its port to arrive and JupyterLab to answer HTTP, re-reading the
        job's state all along: a job that ends on the way is reported at once, with its output."""
        port_known_since = None
        while True:
            status = await self.query_job_status()
            if status is JobStatus.NOTFOUND:
                raise SpawnFailure(await self.failure_message(session), reason="job-ended")
            if status is JobStatus.RUNNING and self.port:
                node = first_node(self.job.nodelist)
                address = self.node_addresses.get(node, node)
                if await self._answers(address):
                    self.log.info("Notebook job %s of %s answers on %s:%s", self.job_id, self._log_name,
                                  node, self.port)
                    return address, self.port
                port_known_since = port_known_since or time.monotonic()
                if time.monotonic() - port_known_since > self.http_timeout:
                    message = (f"JupyterLab of job {self.job_id} on node {node}, port {self.port}, did not "
                               f"answer within {self.http_timeout} s.")
                    raise SpawnFailure(message + await self.output_message(session), reason="timeout")
            await asyncio.sleep(self.startup_poll_interval)

    async def _answers(self, address: str) -> bool:
        base_url = self.server.base_url if self.server else "/"
        url = url_path_join(f"http://{fmt_ip_url(address)}:{self.port}", base_url, "api")
        try:
            response = await AsyncHTTPClient().fetch(url, raise_error=False, follow_redirects=False,
                                                     connect_timeout=2, request_timeout=2)
        except (OSError, HTTPClientError):  # refused, reset, timed out: no HTTP answer yet
            return False
        return response.code != 599

    async def _submit_shielded(self, session, request: JobRequest) -> str:
        """sbatch, shielded: if the start is cancelled (timeout, hub stop) while sbatch runs, the job
        it makes is cancelled as soon as its id is known, instead of running unowned."""
        submission = asyncio.ensure_future(self.backend.scheduler.submit(session, request))
        try:
            return await asyncio.shield(submission)
        except asyncio.CancelledError:
            submission.add_done_callback(lambda done: self._cancel_orphan(session, done))
            raise

    def _cancel_orphan(self, session, submission: asyncio.Future) -> None:
        if submission.cancelled() or submission.exception() is not None:
            return
        jobid = submission.result()
        self.log.warning("Cancelling notebook job %s of %s: its start was abandoned", jobid, self._log_name)
        cancel = asyncio.ensure_future(self.backend.scheduler.cancel(session, jobid))
        _background.add(cancel)
        cancel.add_done_callback(_background.discard)

    def receive_port(self, port: int) -> None:
        """The port the server of this spawner's job reports (see port_report.py)."""
        if not self._awaiting_port:
            raise port_report.PortRefused(f"{self._log_name} is not starting; its port cannot change")
        if self.port:
            raise port_report.PortRefused(f"{self._log_name} has already reported port {self.port}")
        self.port = port

    async def query_job_status(self):
        """The job's state from the shared job-state cache (one squeue per interval for the whole hub).

        Never waits for a fresher read than the cache has: a job missing from a queue read made
        before its submission is not gone, only not listed yet.
        """
        if not self.job_id:
            return JobStatus.NOTFOUND
        try:
            session = await self.session()
            snapshot = await self.backend.scheduler.job_cache(session.system).snapshot()
        except FirecrestError as error:
            # Not "gone": a scheduler that does not answer must not end a running server.
            self.scheduler_problem = error.description
            self.log.warning("State of job %s of %s unknown: %s", self.job_id, self._log_name, error.description)
            return JobStatus.UNKNOWN
        self.scheduler_problem = ""
        job = snapshot.job(self.job_id)
        if job is None or job.user != session.account:
            listed_too_early = self._submitted_at is not None and snapshot.taken_at < self._submitted_at
            return JobStatus.PENDING if listed_too_early and self.job is None else JobStatus.NOTFOUND
        self.job, self.job_status = job, job.state
        if job.state == "RUNNING":
            return JobStatus.RUNNING
        if job.state in WAITING_STATES:
            return JobStatus.PENDING
        return JobStatus.NOTFOUND

    async def failure_message(self, session) -> str:
        job = self.job
        ended = f"ended ({job.state}{', ' + job.reason if job.reason else ''})" if job else "left the queue"
        return f"Your notebook job {self.job_id} {ended} before JupyterLab started." + await self.output_message(session)

    async def output_message(self, session) -> str:
        tail = await self.output_tail(session)
        return f" The end of its output (~/{self.log_file(self.job_id)}):\n{tail}" if tail else ""

    async def output_tail(self, session) -> str:
        try:
            tail = await read_tail(session, self.log_file(self.job_id), self.output_tail_bytes)
        except FirecrestError as error:
            # The tail only adds to a failure already being reported; its absence is no new failure.
            self.log.info("No output of job %s of %s: %s", self.job_id, self._log_name, error.description)
            return ""
        return (tail or "").strip()

    async def stop(self, now=False):
        """Cancel the job (as the user) and, unless `now`, wait until Slurm no longer runs it."""
        if not self.job_id:
            return
        session = await self.session()
        scheduler = self.backend.scheduler
        deadline = time.monotonic() + self.stop_timeout
        self.log.info("Cancelling notebook job %s of %s", self.job_id, self._log_name)
        while True:
            try:
                await scheduler.cancel(session, self.job_id)
                break
            except (UnknownJob, InvalidInput) as error:
                # Gone already, or "already completing or completed".
                self.log.info("Job %s of %s: %s", self.job_id, self._log_name, error.description)
                return
            except FirecrestError as error:
                if time.monotonic() > deadline:
                    raise
                self.log.warning("Cancelling job %s failed (%s); retrying", self.job_id, error.description)
                await asyncio.sleep(2)
        if now:
            return
        cancelled_at = time.monotonic()
        while time.monotonic() < deadline:
            try:
                job = await scheduler.job(session, self.job_id, newer_than=cancelled_at)
            except UnknownJob:
                return
            except FirecrestError:
                job = None
            if job is not None and job.state not in WAITING_STATES | {"RUNNING"}:
                return
            await asyncio.sleep(1)
        self.log.warning("Notebook job %s of %s was cancelled but still runs", self.job_id, self._log_name)

    async def progress(self):
        """Events while the server starts: submitted, queued (with Slurm's reason), starting on a
        node, waiting for the server. The hub stops reading when the start ends."""
        last = None
        while True:
            event = progress_event(self)
            if event != last:
                yield event
                last = event
            await asyncio.sleep(0.5)


async def apply_validated_options(spawner: FirecrestSpawner, user_options: dict) -> None:
    """The default `apply_user_options`: a 400 with the reason before anything is submitted."""
    spawner.job_options = await spawner.validate_user_options(user_options)


def _filled(field) -> bool:
    """Whether a form field was filled in: text that is not blank, or an uploaded file (which the
    validation then refuses as an unknown option)."""
    return not isinstance(field, str) or bool(field.strip())


def first_node(nodelist: str) -> str:
    """The first node of a Slurm host list ("nid[001-004,010],gpu1" -> "nid001"): where the batch
    script, and so the server, runs."""
    prefix, ranges, suffix = re.match(r"([^\[,]*)(?:\[([^\]]*)\])?([^,]*)", nodelist).groups()
    return prefix + (re.split(r"[,-]", ranges)[0] if ranges else "") + suffix


# Cancellations of abandoned jobs still in flight; kept referenced so they run to the end.
_background: set[asyncio.Future] = set()


port_report.install()
