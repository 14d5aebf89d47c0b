"""Staging without the cluster: part plans, keys, the command objects (no URL in any argv), the batch
scripts of transfers, configuration checks, and the reading of the client's path."""

from __future__ import annotations

import functools
import http.server
import os
import shlex
import subprocess
import threading
import time

import pytest
from traitlets import TraitError

from firecrest_hub.api.storage_external import client_file_name
from firecrest_hub.errors import InvalidInput
from firecrest_hub.remote import CommandResult
from firecrest_hub.filesystem.commands import Compress, Copy, Extract, Move, RemoveTree
from firecrest_hub.staging import ObjectStore, Staging, plan_parts
from firecrest_hub.staging.batch import job_files, transfer_script
from firecrest_hub.staging.commands import (
    CurlLimits, FetchObject, FetchPieces, Niced, PushFile, PushParts, TransferFailed, config_value,
)
from firecrest_hub.staging.objectstore import MAX_PARTS, MiB
from firecrest_hub.transfers import Rsync, Transfer

URL = "http://s3.example.org/bucket/upload/alice/0123/f?X-Amz-Signature=secret"


def run_script(command) -> subprocess.CompletedProcess:
    """Run a remote command object here, as bash would on the system."""
    return subprocess.run(command.argv(), input=command.stdin(), capture_output=True, text=True, timeout=30)


def test_part_plan_covers_the_file_exactly():
    plan = plan_parts(20 * MiB + 5, 8 * MiB)
    assert [(p.number, p.offset, p.size) for p in plan] == [
        (1, 0, 8 * MiB), (2, 8 * MiB, 8 * MiB), (3, 16 * MiB, 4 * MiB + 5)]
    assert [(p.number, p.size) for p in plan_parts(0, 8 * MiB)] == [(1, 0)]
    assert len(plan_parts(16 * MiB, 8 * MiB)) == 2


def test_part_plan_grows_parts_to_stay_within_the_part_limit():
    size = 5 * 1024 * 1024 * MiB  # 5 TiB
    plan = plan_parts(size, 8 * MiB)
    assert len(plan) <= MAX_PARTS
    assert plan[0].size % MiB == 0
    assert sum(part.size for part in plan) == size
    with pytest.raises(ValueError):
        plan_parts(size + 1, 8 * MiB)


def test_parts_grow_with_the_file_up_to_one_put():
    settings = _staging_with(objects=ObjectStore(part_size=8 * MiB), parallel_streams=2).settings
    assert settings.part_size_for(20 * MiB) == 8 * MiB
    assert settings.part_size_for(1024 * MiB) == 64 * MiB  # eight per stream
    assert settings.part_size_for(1000 * MiB) == 63 * MiB  # in whole MiB
    assert settings.part_size_for(200 * 1024 * MiB) == 5 * 1024 * MiB  # no part beyond S3's 5 GiB PUT
    assert len(plan_parts(5 * 1024 * 1024 * MiB, settings.part_size_for(5 * 1024 * 1024 * MiB))) <= MAX_PARTS


def test_keys_are_per_user_and_unguessable():
    first = ObjectStore.new_key("upload", "alice", "data.bin")
    second = ObjectStore.new_key("upload", "alice", "data.bin")
    assert first != second
    assert first.startswith("upload/alice/") and first.endswith("/data.bin")
    assert len(first.split("/")[2]) == 32
    # A user name that looks like a path cannot reach into another user's prefix.
    assert ObjectStore.new_key("download", "a/../bob", "x").split("/")[:2] == ["download", "a%2F..%2Fbob"]
    # The parts of an upload and its completion mark sit beside the key, in the transfer's own folder.
    folder = first.rsplit("/", 1)[0] + "/"
    assert ObjectStore.folder(first) == folder
    assert ObjectStore.part_key(first, 7) == folder + "part-00007"
    assert ObjectStore.completion_key(first) == folder + "completed"
    # The mark of an ended upload stands beside the folder: inside, a file could bear its name.
    assert ObjectStore.ended_key(first) == folder.rstrip("/") + ".ended"
    assert ObjectStore.ended_folder(ObjectStore.ended_key(first)) == folder
    assert ObjectStore.ended_folder(folder + "x.ended") is None


def test_object_store_settings_are_checked():
    assert ObjectStore().url_lifetime == 3600
    for bad in ({"url_lifetime": 8 * 24 * 3600}, {"url_lifetime": 10}, {"part_size": MiB},
                {"multipart_threshold": 6 * 1024 * MiB}, {"bucket": "Bad_Bucket"}, {"endpoint_url": "s3.local"},
                {"expiry_days": 0}):
        with pytest.raises(TraitError):
            ObjectStore(**bad)
    assert ObjectStore(endpoint_url="http://127.0.0.1:8333/").endpoint_url == "http://127.0.0.1:8333"
    assert ObjectStore().lifetime(30 * 24 * 3600) == 7 * 24 * 3600


@pytest.mark.parametrize("setting", [{"parallel_streams": 0}, {"parallel_streams": 17}, {"poll_backoff": 0},
                                     {"max_poll_interval": 0}, {"progress_interval": 0}, {"job_threshold": 0},
                                     {"min_transfer_rate": 0}, {"stall_timeout": 0}, {"outage_grace": -1},
                                     {"sweep_interval": -1}])
def test_staging_settings_are_checked(setting):
    with pytest.raises(TraitError):
        _staging_with(**setting)


async def test_sweep_deletes_expired_downloads_and_what_reached_ended_uploads():
    class Objects:
        url_lifetime = 3600
        part_size = 8 * MiB
        deleted: list[str] = []

        async def listing(self, prefix):
            if prefix == "upload/":
                # An upload ended 10 minutes ago, but a client still PUT with its URL; one ended long ago
                # (every URL of it expired); one still running; a user's own file named like a mark.
                return [("upload/a/4.ended", 0, 600.0), ("upload/a/4/late.bin", 5, 30.0),
                        ("upload/a/5.ended", 0, 3700.0), ("upload/a/6/running.bin", 5, 30.0),
                        ("upload/a/7/x.ended", 5, 9000.0)]
            assert prefix == "download/"
            # A 1 GiB push may take 2 * (300 s + 1 GiB at 10 MiB/s) = 805 s before its URL is issued.
            return [("download/a/1/old", 1000, 4300.0), ("download/a/2/fresh", 1000, 100.0),
                    ("download/a/3/big-but-young", 1024 * MiB, 4300.0)]

        async def delete(self, key):
            self.deleted.append(key)

    staging = _staging_with(objects=Objects())
    assert await staging.sweep() == 2
    assert staging.objects.deleted == ["download/a/1/old", "upload/a/4/late.bin", "upload/a/5.ended"]


def _staging_with(objects=None, **settings):
    """A Staging with nothing real behind it: enough for its settings and its sweep."""

    class Runner:
        def on_resume(self, kind, work):
            pass

    class FakeTasks:
        runner = Runner()
        store = None

        def on_present(self, kind, view):
            pass

    return Staging(objects or ObjectStore(), None, FakeTasks(), **settings)


def test_curl_commands_keep_urls_out_of_the_argv():
    limits = CurlLimits(stall_time=30)
    for command in (FetchObject(URL, "/home/alice/.tmp", limits), PushFile(URL, "/home/alice/f", limits),
                    PushParts("/home/alice/f", [(1, 0, 5, URL)], limits),
                    FetchPieces("/home/alice/.tmp", [(0, 5, URL)], limits, ranged=True)):
        assert not any("X-Amz-Signature" in word for word in command.argv())
        assert "X-Amz-Signature=secret" in command.stdin()
    fetch = FetchObject(URL, "/home/alice/.tmp", limits)
    assert fetch.argv()[:3] == ["curl", "--config", "-"]
    assert "--speed-time" in fetch.argv() and "30" in fetch.argv()
    assert f'url = "{URL}"' in fetch.stdin() and 'output = "/home/alice/.tmp"' in fetch.stdin()


def test_curl_config_values_are_quoted():
    assert config_value('a "b" \\c') == '"a \\"b\\" \\\\c"'
    push = PushFile(URL, '/home/alice/we"ird\\name', CurlLimits())
    assert 'upload-file = "/home/alice/we\\"ird\\\\name"' in push.stdin()


def test_curl_reads_its_quoted_config(tmp_path):
    """curl itself reads a path with quotes and backslashes back from the config we write."""
    source = tmp_path / 'odd "name" \\ here'
    source.write_bytes(b"payload")
    target = tmp_path / "copy"
    fetch = FetchObject(source.as_uri(), str(target), CurlLimits())
    result = run_script(fetch)
    assert result.returncode == 0, result.stderr
    assert target.read_bytes() == b"payload"


def test_curl_failures_say_what_failed():
    fetch = FetchObject(URL, "/tmp/x", CurlLimits())
    failed = CommandResult(tuple(fetch.argv()), 7, "", "curl: (7) Failed to connect to 127.0.0.1 port 1\n")
    with pytest.raises(TransferFailed, match="transfer from the object store to the system failed: curl: .7. Failed"):
        fetch.parse(failed)
    assert fetch.parse(CommandResult(tuple(fetch.argv()), 0, "", "")) is None
    push = PushParts("/tmp/x", [], CurlLimits())
    with pytest.raises(TransferFailed, match="from the system to the object store"):
        push.parse(CommandResult(tuple(push.argv()), 1, "", "part 3 failed"))


def test_push_parts_script_sends_each_range(tmp_path):
    """The part pusher, run by bash against file:// URLs: each range lands whole in its own file."""
    data = bytes(range(256)) * 100
    source = tmp_path / "source"
    source.write_bytes(data)
    parts = [(1, 0, 10000, (tmp_path / "p1").as_uri()), (2, 10000, 10000, (tmp_path / "p2").as_uri()),
             (3, 20000, 5600, (tmp_path / "p3").as_uri())]
    command = PushParts(str(source), parts, CurlLimits())
    result = run_script(command)
    assert result.returncode == 0, result.stderr
    assert b"".join((tmp_path / f"p{n}").read_bytes() for n in (1, 2, 3)) == data


def test_fetch_ranges_fill_one_file_side_by_side(tmp_path):
    """Two range fetchers, run by bash against a file:// URL, fill their halves of one sparse file."""
    data = bytes(range(256)) * 100
    source = tmp_path / "object"
    source.write_bytes(data)
    target = tmp_path / "target"
    target.write_bytes(b"")
    fetchers = [FetchPieces(str(target), [(offset, 12800, source.as_uri())], CurlLimits(), ranged=True)
                for offset in (0, 12800)]
    for fetcher in reversed(fetchers):  # the far half first: the file has a hole until the first is done
        assert not any(source.as_uri() in word for word in fetcher.argv())
        result = run_script(fetcher)
        assert result.returncode == 0, result.stderr
    assert target.read_bytes() == data
    result = run_script(FetchPieces(str(target), [(0, 10, (tmp_path / "gone").as_uri())], CurlLimits(), ranged=True))
    assert result.returncode != 0 and "the piece at byte 0 failed" in result.stderr


def test_a_piece_that_cannot_be_written_fails_with_the_reason(tmp_path):
    source = tmp_path / "object"
    source.write_bytes(b"x" * 100_000)
    full = run_script(FetchPieces("/dev/full", [(0, 100_000, source.as_uri())], CurlLimits(), ranged=True))
    assert full.returncode != 0 and "writing the piece at byte 0 failed" in full.stderr
    unopened = run_script(FetchPieces(str(tmp_path), [(0, 100_000, source.as_uri())], CurlLimits(), ranged=True))
    assert unopened.returncode != 0 and "Is a directory" in unopened.stderr
    assert "the piece at byte 0 failed" in unopened.stderr


class RangeServer(http.server.SimpleHTTPRequestHandler):
    """Serves a folder as a store does: 404 for what is not there, a Range as 206 (or 416 past the end)."""

    def log_message(self, *args):
        pass

    def do_GET(self):
        path = self.translate_path(self.path)
        if not os.path.isfile(path):
            return self.send_error(404)
        with open(path, "rb") as file:
            body = file.read()
        first, last = map(int, self.headers["Range"].removeprefix("bytes=").split("-"))
        if first >= len(body):
            self.send_response(416)
            self.send_header("Content-Range", f"bytes */{len(body)}")
            self.send_header("Content-Length", "0")
            return self.end_headers()
        last = min(last, len(body) - 1)
        self.send_response(206)
        self.send_header("Content-Range", f"bytes {first}-{last}/{len(body)}")
        self.send_header("Content-Length", str(last - first + 1))
        self.end_headers()
        self.wfile.write(body[first:last + 1])


@pytest.fixture
def web_folder(tmp_path):
    """A folder served over HTTP, answering 404 for files that are not (yet) there."""
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(RangeServer, directory=str(tmp_path)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield tmp_path, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_fetch_parts_waits_for_parts_still_uploading(web_folder):
    """Parts that are not in the store yet are asked for again until they come; each lands in place."""
    folder, base = web_folder
    parts = [b"a" * 1000, b"b" * 1000, b"c" * 10]
    target = folder / "target"
    target.write_bytes(b"")
    (folder / "p1").write_bytes(parts[0])
    fetch = FetchPieces(str(target), [(0, 1000, f"{base}/p1"), (1000, 1000, f"{base}/p2"), (2000, 10, f"{base}/p3")],
                        CurlLimits(), ranged=False, wait=20)
    process = subprocess.Popen(fetch.argv(), stdin=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    process.stdin.write(fetch.stdin())
    process.stdin.close()
    time.sleep(0.5)
    assert process.poll() is None  # waiting for part 2
    (folder / "p2").write_bytes(parts[1])
    (folder / "p3").write_bytes(parts[2])
    assert process.wait(timeout=20) == 0, process.stderr.read()
    assert target.read_bytes() == b"".join(parts)


def test_fetch_parts_takes_a_part_only_in_full(web_folder):
    """A part sent with another size (too short, empty, too long) is waited past, and writes nothing
    beyond its own bytes; the part sent again in full is taken."""
    folder, base = web_folder
    target = folder / "target"
    target.write_bytes(b"")
    (folder / "p2").write_bytes(b"y" * 100)  # already fetched by another stream, say
    fetch = FetchPieces(str(target), [(0, 100, f"{base}/p1")], CurlLimits(), ranged=False, wait=20)
    for wrong in (b"x" * 10, b"", b"x" * 150):
        (folder / "p1").write_bytes(wrong)
        process = subprocess.Popen(fetch.argv(), stdin=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        process.stdin.write(fetch.stdin())
        process.stdin.close()
        time.sleep(0.5)
        assert process.poll() is None, process.stderr.read()  # still waiting for the part in full
        process.kill()
        process.wait()
    with open(target, "r+b") as file:
        file.seek(100)
        file.write(b"y" * 100)
    (folder / "p1").write_bytes(b"z" * 100)
    assert run_script(fetch).returncode == 0
    assert target.read_bytes() == b"z" * 100 + b"y" * 100


def test_fetch_parts_gives_up_on_a_part_that_never_comes(web_folder):
    folder, base = web_folder
    (folder / "target").write_bytes(b"")
    started = time.monotonic()
    result = run_script(FetchPieces(str(folder / "target"), [(0, 5, f"{base}/never")], CurlLimits(),
                                    ranged=False, wait=1))
    assert result.returncode != 0 and "404" in result.stderr and "did not arrive in full within 1 s" in result.stderr
    assert time.monotonic() - started < 10


def test_a_staging_job_script_feeds_each_command_its_stdin():
    limits = CurlLimits()
    commands = [PushParts("/home/alice/f", [(1, 0, 5, URL)], limits),
                PushParts("/home/alice/f", [(2, 5, 5, URL + "2")], limits)]
    log_file, exit_file = job_files("abcd")
    script = transfer_script(commands, ["--output=/dev/null"], log_file=log_file, status_file=exit_file)
    assert script.startswith("#!/bin/bash\n#SBATCH --output=/dev/null\n")
    assert f"\nlog_to {log_file}\n" in script and script.endswith(f"\nwait_started {exit_file}\nfinish\n")
    assert script.count("start " + shlex.join(commands[0].argv())) == 2
    assert script.count(URL) == 2
    # The script is valid bash.
    assert subprocess.run(["bash", "-n"], input=script, text=True).returncode == 0


def test_a_transfer_job_runs_its_commands_side_by_side_and_fails_with_them(tmp_path):
    """The script run by bash: each command gets its own here-document, stderr and the outcome land in
    the home directory, and the job exits with the status of the command that failed."""

    class Shell(PushParts):
        def __init__(self, code: str, stdin: str | None):
            self.code, self.text = code, stdin

        def argv(self):
            return ["bash", "-c", self.code]

        def stdin(self):
            return self.text

    commands = [Shell('cat > "$HOME/first"; echo complaint >&2', "one\ntwo\n"),
                Shell('read -r line; echo "$line" > "$HOME/second"; exit 3', "second\n"), Shell("cat", None)]
    script = transfer_script(commands, [], log_file="log", status_file="exit")
    result = subprocess.run(["bash", "-c", script], env={**os.environ, "HOME": str(tmp_path)},
                            stdin=subprocess.DEVNULL, timeout=30)
    assert result.returncode == 3
    assert (tmp_path / "first").read_text() == "one\ntwo\n" and (tmp_path / "second").read_text() == "second\n"
    assert (tmp_path / "log").read_text() == "complaint\n" and (tmp_path / "exit").read_text() == "3\n"


class _Shell(PushParts):
    """A command of a transfer job's script that runs a bit of shell."""

    def __init__(self, code: str):
        self.code = code

    def argv(self):
        return ["bash", "-c", self.code]

    def stdin(self):
        return None


@pytest.mark.parametrize("confirmation, code, output, error", [
    ("ok File was successfully uploaded: 5 bytes in /home/alice/f", 0, "File was successfully uploaded: 5 bytes", ""),
    ("failed: the sha256 differs", 1, "", "failed: the sha256 differs"),
    (None, 1, "", "the service did not confirm the transfer within 2 s"),
])
def test_a_watched_transfer_job_ends_with_the_services_confirmation(tmp_path, confirmation, code, output, error):
    """The job moves its data, then waits for the service's word: its output or error says how it ended."""
    confirm = 'sleep 0.3; echo "$1" > "$HOME/confirmed"' if confirmation else "true"
    commands = [_Shell("true")]
    script = transfer_script(commands, [], status_file="exit", confirmation=("confirmed", 2))
    script = script.replace("\nwait_started exit\n", f"\nwait_started exit\n( {confirm} ) &\n")
    result = subprocess.run(["bash", "-c", script, "job", confirmation or ""], env={**os.environ, "HOME": str(tmp_path)},
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == code
    assert output in result.stdout and (output or not result.stdout)
    assert error in result.stderr
    assert (tmp_path / "exit").read_text() == "0\n" and not (tmp_path / "confirmed").exists()


def test_a_failed_watched_transfer_job_does_not_wait(tmp_path):
    script = transfer_script([_Shell("exit 4")], [], status_file="exit", confirmation=("confirmed", 60),
                             message="never")
    started = time.monotonic()
    result = subprocess.run(["bash", "-c", script], env={**os.environ, "HOME": str(tmp_path)}, capture_output=True,
                            text=True, timeout=30)
    assert result.returncode == 4 and "never" not in result.stdout and time.monotonic() - started < 5


@pytest.mark.parametrize(("operation", "command", "summary"), [
    ("rsync", Rsync("/home/alice/a b", "/home/alice/c"), "rsync /home/alice/a b /home/alice/c"),
    ("cp", Copy("/a", "/b"), "cp /a /b"), ("mv", Move("/a", "/b"), "mv /a /b"), ("rm", RemoveTree("/a"), "rm /a"),
    ("compress", Compress("/a", "/a.tgz", False), "compress /a /a.tgz"),
    ("extract", Extract("/a.tgz", "/b", "auto"), "extract /a.tgz /b"),
])
def test_an_internal_transfer_says_what_it_does(operation, command, summary):
    assert Transfer(operation, command).summary() == summary


def test_an_internal_transfer_job_is_one_quoted_command():
    transfer = Transfer("rsync", Rsync("/home/alice/a b", "/home/alice/$(c)"), stage_out_job="42")
    script = transfer.script()
    assert script.startswith("#!/bin/bash\n#SBATCH --output=job-%j.out\n#SBATCH --error=job-%j.err\n"
                             "#SBATCH --ntasks=1\n#SBATCH --dependency=afterok:42\n")
    assert script.endswith("\nstart rsync --archive --verbose -- '/home/alice/a b' '/home/alice/$(c)'\nwait_started\n"
                           "announce 'Files were successfully synchronized.'\nfinish\n")
    assert subprocess.run(["bash", "-n"], input=script, text=True).returncode == 0


@pytest.mark.parametrize("source, name", [
    ("/home/me/data.bin", "data.bin"), ("data.bin", "data.bin"), ("C:\\Users\\me\\data.bin", "data.bin"),
    ("/odd/na me$(x)", "na me$(x)"),
])
def test_client_file_name(source, name):
    assert client_file_name(source) == name


@pytest.mark.parametrize("source", [None, "", "/home/me/", "a\nb", "x\x00y", "/" + "a" * 5000])
def test_client_file_name_refuses(source):
    with pytest.raises(InvalidInput):
        client_file_name(source)


def test_a_niced_command_is_the_command_at_a_lower_priority():
    fetch = FetchPieces("/home/alice/f", [(0, 5, URL)], CurlLimits(), ranged=False, wait=3, timeout=7)
    niced = Niced(fetch, 19)
    assert niced.argv() == ["nice", "-n", "19", *fetch.argv()]
    assert niced.stdin() == fetch.stdin() and niced.timeout == 7
    assert Niced(fetch, 0).argv() == fetch.argv()
    assert subprocess.run(["nice", "-n", "19", "true"]).returncode == 0
