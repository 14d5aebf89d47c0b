"""A real AiiDA calculation through the service's FirecREST v2 API, as an AiiDA user runs one.

Run by tests/test_aiida_v2.py with the python of the AiiDA virtualenv (`make aiida` builds it in
.demo/aiida-venv: aiida-core and the unmodified aiida-firecrest from PyPI, kept out of the project's own
environment). It expects AIIDA_PATH to name an empty temporary directory: a throwaway profile is made there
(core.sqlite_dos storage, no broker), a Computer with aiida-firecrest's transport `firecrest` and
scheduler `firecrest`, an InstalledCode for /bin/bash on it, and `core.arithmetic.add` is run to the end in
this process (no daemon). It prints one JSON line with what a user looks at afterwards; the test asserts on it.

    AIIDA_PATH=/tmp/x .demo/aiida-venv/bin/python tests/aiida/calculation.py --url ... --token-uri ... \
        --client-id alice --secret-file /tmp/secret --machine cluster --workdir /home/alice/w \
        --temp-directory /home/alice/t --billing-account demo --x 4 --y 5
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

from plumpy import ProcessListener


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="the FirecREST v2 API (.../services/firecrest/api/v2)")
    parser.add_argument("--token-uri", required=True, help="the OAuth2 client-credentials token endpoint")
    parser.add_argument("--client-id", required=True, help="the hub user")
    parser.add_argument("--secret-file", required=True, help="absolute path of a file holding the client secret")
    parser.add_argument("--machine", required=True, help="the FirecREST system name (compute resource)")
    parser.add_argument("--workdir", required=True, help="the Computer's work directory on the cluster")
    parser.add_argument("--temp-directory", required=True, help="aiida-firecrest's temp directory on the cluster")
    parser.add_argument("--billing-account", required=True, help="the Slurm account of transfer jobs")
    parser.add_argument("--x", type=int, default=4)
    parser.add_argument("--y", type=int, default=5)
    return parser.parse_args(argv)


def make_profile():
    """A profile in $AIIDA_PATH: SQLite storage in that directory, no broker (the calculation runs in this
    process with `run`, so no daemon and no RabbitMQ are needed)."""
    from aiida.manage.configuration import create_profile, get_config, load_profile

    aiida_path = os.environ.get("AIIDA_PATH")
    if not aiida_path or not Path(aiida_path).is_dir():
        sys.exit("AIIDA_PATH must name an existing (empty, temporary) directory")
    config = get_config(create=True)
    profile = create_profile(
        config,
        name="firecrest-hub-test",
        email="alice@example.org",
        storage_backend="core.sqlite_dos",
        storage_config={"filepath": tempfile.mkdtemp(prefix="storage-", dir=aiida_path)},
        broker_backend=None,
    )
    config.set_default_profile(profile.name, overwrite=True)
    # A failed transport task (upload, submit, update, retrieve) is tried again after 1, 2, 4, 8 s (AiiDA's
    # defaults: 20 s doubling, 5 attempts, over 5 minutes): a short outage of the service (a restart) is ridden
    # out, and a real failure pauses the process within seconds (see StopWhenPaused).
    config.set_option("transport.task_retry_initial_interval", 1, scope=profile.name)
    config.set_option("transport.task_maximum_attempts", 5, scope=profile.name)
    config.store()
    load_profile(profile.name, allow_switch=True)
    return profile


def make_computer(args: argparse.Namespace):
    from aiida.orm import Computer

    computer = Computer(
        label="firecrest-hub",
        hostname=args.machine,
        description="the demo cluster through the service's FirecREST v2 API",
        transport_type="firecrest",  # aiida-firecrest 1.0.0 names its entry points `firecrest` (not core.*)
        scheduler_type="firecrest",
        workdir=args.workdir,
    ).store()
    computer.configure(
        url=args.url,
        token_uri=args.token_uri,
        client_id=args.client_id,
        # aiida-firecrest reads the secret from this file when the value is an existing path (that is what
        # `verdi computer configure firecrest` stores too): the secret is not kept in the database.
        client_secret=args.secret_file,
        compute_resource=args.machine,
        temp_directory=args.temp_directory,
        billing_account=args.billing_account,
        max_io_allowed=8,
        # Every upload and download is checked against the file's checksum on the system (ops/checksum).
        checksum_check=True,
    )
    # The scheduler is asked about the job every second (the default is every 10 s): a short job, a short test.
    computer.set_minimum_job_poll_interval(1)
    return computer


def prepare_temp_directory(computer, path: str) -> None:
    """What `verdi computer configure firecrest` does with the temp directory (its callback), through
    the transport: create it on the cluster if it is missing; it must be empty."""
    with computer.get_transport() as transport:
        if not transport.path_exists(path):
            transport.mkdir(path, ignore_existing=True)
        if transport.listdir(path):
            sys.exit(f"the temp directory {path} is not empty")


class StopWhenPaused(ProcessListener):
    """Stops the run when AiiDA pauses the process, which it does once a transport task has failed every
    attempt: without a daemon nothing would play it again, and `run` would wait for ever. (Killing it instead
    does not end it: the kill wants the transport, from a plain callback of the event loop.) The report then
    says where it stopped (process_status: "Pausing after failed transport task: ...")."""

    def __init__(self) -> None:
        super().__init__()
        self.paused = False

    def on_process_paused(self, process) -> None:
        self.paused = True
        process.loop.call_soon(process.loop.stop)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    if not Path(args.secret_file).is_absolute() or not Path(args.secret_file).is_file():
        sys.exit(f"--secret-file must be an absolute path of an existing file: {args.secret_file}")
    make_profile()

    from aiida.engine import run_get_node
    from aiida.engine.utils import instantiate_process
    from aiida.manage import get_manager
    from aiida.orm import InstalledCode, Int
    from aiida.plugins import CalculationFactory

    computer = make_computer(args)
    prepare_temp_directory(computer, args.temp_directory)
    code = InstalledCode(label="bash", computer=computer, filepath_executable="/bin/bash",
                         default_calc_job_plugin="core.arithmetic.add").store()

    builder = CalculationFactory("core.arithmetic.add").get_builder()
    builder.code = code
    builder.x = Int(args.x)
    builder.y = Int(args.y)
    builder.metadata.options.resources = {"num_machines": 1, "num_mpiprocs_per_machine": 1}
    builder.metadata.options.max_wallclock_seconds = 120
    process = instantiate_process(get_manager().get_runner(), builder)
    stopper = StopWhenPaused()
    process.add_process_listener(stopper)
    try:
        # run_get_node is `aiida.engine.run` that also hands back the process node (its state, exit status).
        outputs, node = run_get_node(process)
    except RuntimeError:  # "Event loop stopped before Future completed."
        if not stopper.paused:
            raise
        outputs, node = {}, process.node

    retrieved = outputs.get("retrieved")
    report = {
        "pk": node.pk,
        "process_state": node.process_state.value if node.process_state else None,
        "exit_status": node.exit_status,
        "exit_message": node.exit_message,
        "process_status": node.process_status,
        "is_finished_ok": node.is_finished_ok,
        "sum": outputs["sum"].value if "sum" in outputs else None,
        "job_id": node.get_job_id(),
        "scheduler_state": node.get_scheduler_state().value if node.get_scheduler_state() else None,
        "remote_workdir": node.get_remote_workdir(),
        "retrieved": sorted(retrieved.base.repository.list_object_names()) if retrieved else [],
        "aiida_out": retrieved.base.repository.get_object_content("aiida.out") if retrieved else None,
        "outputs": sorted(outputs),
    }
    print(json.dumps(report), flush=True)
    return 0 if node.is_finished_ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
