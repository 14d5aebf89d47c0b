"""Staging benchmark: end-to-end upload and download of a large file through the running demo service
(client -> S3 -> file on the cluster, and back), against raw S3 PUT and GET with curl and a raw disk copy
measured in the same run, plus the service's memory while it runs transfers of two sizes.

    python benchmarks/staging.py [--size-mib 1024] [--small-mib 64] [--rounds 2]

End-to-end times run from the request that starts the task to the moment the client has what it wanted:
the file on the cluster (task 114, seen on the task events stream), or the file on the client's disk (task
117 plus the client's GET). The client moves bytes with curl, as pyfirecrest's finish_upload does; "upload,
parts" is our multipart extension instead, its 64 MiB parts PUT from Python in two streams while the
cluster already fetches those that arrived. With the demo's settings a 1 GiB file is above the multipart
threshold and below Staging.job_threshold: the cluster side runs over SSH, fetching in two streams (byte
ranges of the one object, or parts) and pushing 64 MiB parts in two streams. The service's resident
memory (VmRSS of `firecrest_hub --config`) is sampled every 20 ms during each transfer.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shlex
import statistics
import subprocess
import tempfile
import threading
import time

import boto3
import requests
from botocore.config import Config as BotoConfig

from common import DEMO, demo_config

from firecrest_hub.staging import ObjectStore  # noqa: E402

HUB = "http://127.0.0.1:8000"
API = f"{HUB}/services/firecrest/api/v1"
MiB = 1024 * 1024


def user_token(user: str) -> str:
    admin = (DEMO / "admin.token").read_text().strip()
    response = requests.post(f"{HUB}/hub/api/users/{user}/tokens", headers={"Authorization": f"token {admin}"},
                             json={"scopes": ["access:services!service=firecrest"], "expires_in": 3600}, timeout=10)
    response.raise_for_status()
    return response.json()["token"]


class Service:
    """The demo service, seen from a client (alice) and from outside (its process's memory)."""

    def __init__(self):
        self.headers = {"Authorization": f"token {user_token('alice')}", "X-Machine-Name": "cluster"}
        self.pid = self.find_pid()
        self.restarted = False

    @staticmethod
    def find_pid() -> int:
        """The service's pid, waiting while the hub restarts it (it does within about 30 s)."""
        for _ in range(120):
            found = subprocess.run(["pgrep", "-f", "firecrest_hub --config"], capture_output=True, text=True)
            if found.stdout.split():
                return int(found.stdout.split()[0])
            time.sleep(0.5)
        raise RuntimeError("the service is not running")

    def start(self, endpoint: str, **fields) -> str:
        response = requests.post(f"{API}/storage/xfer-external/{endpoint}", headers=self.headers, data=fields,
                                 timeout=60)
        response.raise_for_status()
        return response.json()["task_id"]

    def wait(self, task_id: str, statuses: set[str]) -> dict:
        """The task once it reaches one of `statuses`, followed on the task events stream as the portal
        does (polling the task every few ms would cost this 2-core machine CPU the transfer needs)."""
        with requests.get(f"{API}/tasks/events", headers=self.headers, stream=True, timeout=600) as stream:
            if stream.status_code != 200:  # the service restarting (other work on this machine)
                time.sleep(0.5)
                return self.wait(task_id, statuses)
            # Subscribed first, then read: no change is missed between the two.
            task = requests.get(f"{API}/tasks/{task_id}", headers=self.headers, timeout=30).json()["task"]
            lines = stream.iter_lines(chunk_size=None, decode_unicode=True)
            while task["status"] not in statuses:
                if task["status"] in ("115", "118"):
                    raise RuntimeError(f"task failed: {task['data']}")
                event = next(line for line in lines if line.startswith("data: "))
                changed = json.loads(event[len("data: "):])
                if changed.get("hash_id") == task_id:
                    task = changed
            return task

    def part_urls(self, task_id: str) -> list[dict]:
        parts: list[dict] = []
        while True:
            response = requests.get(f"{API}/storage/xfer-external/upload/parts", timeout=60,
                                    headers={**self.headers, "X-Task-Id": task_id},
                                    params={"first": len(parts) + 1, "count": 1000})
            response.raise_for_status()
            page = response.json()
            parts += page["parts"]
            if len(parts) == page["part_count"]:
                return parts

    def complete(self, task_id: str) -> None:
        requests.post(f"{API}/storage/xfer-external/upload/complete", timeout=60,
                      headers={**self.headers, "X-Task-Id": task_id}).raise_for_status()

    def invalidate(self, task_id: str) -> None:
        requests.post(f"{API}/storage/xfer-external/invalidate", headers={**self.headers, "X-Task-Id": task_id},
                      timeout=30)

    def rss(self) -> int:
        try:
            return self._rss()
        except OSError:  # restarted by someone else meanwhile: measure the new process, and say so
            self.pid, self.restarted = self.find_pid(), True
            return self._rss()

    def _rss(self) -> int:
        with open(f"/proc/{self.pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        raise ProcessLookupError(f"process {self.pid} is exiting")


class PeakMemory:
    """The largest VmRSS of the service seen while the block runs."""

    def __init__(self, service: Service):
        self.service, self.peak, self._stop = service, 0, threading.Event()

    def __enter__(self):
        self.before = self.service.rss()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, self.service.rss())
            time.sleep(0.02)

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def curl(*argv: str) -> None:
    subprocess.run(["curl", "--fail", "--silent", "--show-error", *argv], check=True)


def timed(action) -> float:
    # Each measurement starts on a quiet disk, not under the write-back of the one before.
    os.sync()
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def end_to_end_upload(service: Service, local: str, target: str) -> None:
    task_id = service.start("upload", sourcePath=local, targetPath=target)
    msg = service.wait(task_id, {"111"})["data"]["msg"]
    subprocess.run(shlex.split(msg["command"]), check=True)
    service.wait(task_id, {"114"})


def end_to_end_upload_in_parts(service: Service, local: str, target: str, streams: int = 2) -> None:
    """Our multipart extension, as a Python client uses it: parts PUT side by side over kept-alive
    connections while the system already fetches the ones that arrived."""
    size = os.path.getsize(local)
    task_id = service.start("upload", sourcePath=local, targetPath=target, size=str(size))
    service.wait(task_id, {"111"})
    parts = service.part_urls(task_id)

    def send(mine: list[dict]) -> None:
        with requests.Session() as http, open(local, "rb") as file:
            for part in mine:
                body = os.pread(file.fileno(), part["size"], part["offset"])
                http.put(part["url"], data=body, timeout=600).raise_for_status()

    senders = [threading.Thread(target=send, args=(parts[first::streams],)) for first in range(streams)]
    for sender in senders:
        sender.start()
    for sender in senders:
        sender.join()
    service.complete(task_id)
    service.wait(task_id, {"114"})


def end_to_end_download(service: Service, source: str, local: str) -> str:
    task_id = service.start("download", sourcePath=source)
    url = service.wait(task_id, {"117"})["data"]["url"]
    curl("--output", local, url)
    return task_id


def raw_s3(local: str, copy: str) -> tuple[float, float]:
    """One PUT and one GET of the file with curl on presigned URLs, outside the service."""
    store = ObjectStore(config=demo_config())
    s3 = boto3.client("s3", endpoint_url=store.endpoint_url, aws_access_key_id=store.access_key,
                      aws_secret_access_key=store.secret_key, region_name=store.region,
                      config=BotoConfig(signature_version="s3v4", s3={"addressing_style": "path"}))
    key = f"benchmark/raw-{os.getpid()}"
    params = {"Bucket": store.bucket, "Key": key}
    put_url = s3.generate_presigned_url("put_object", Params=params, ExpiresIn=3600)
    get_url = s3.generate_presigned_url("get_object", Params=params, ExpiresIn=3600)
    try:
        put = timed(lambda: curl("--upload-file", local, put_url))
        get = timed(lambda: curl("--output", copy, get_url))
    finally:
        s3.delete_object(**params)
    return put, get


def sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        while chunk := file.read(4 * MiB):
            digest.update(chunk)
    return digest.hexdigest()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--small-mib", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    service = Service()
    size = args.size_mib * MiB
    remote_dir = f"/home/alice/staging-benchmark-{os.getpid()}"
    subprocess.run(["runuser", "-u", "alice", "--", "mkdir", "-p", remote_dir], check=True)
    results: dict[str, list[float]] = {}
    memory: dict[int, tuple[int, int]] = {}
    with tempfile.TemporaryDirectory() as scratch:
        local = os.path.join(scratch, "data.bin")
        with open(local, "wb") as file:
            for _ in range(args.size_mib):
                file.write(os.urandom(MiB))
        os.chmod(scratch, 0o755)
        expected = sha256(local)
        try:
            for _ in range(args.rounds):
                copy = os.path.join(scratch, "copy.bin")
                results.setdefault("raw disk copy (cp)", []).append(timed(lambda: subprocess.run(
                    ["cp", local, copy], check=True)))
                os.remove(copy)
                put, get = raw_s3(local, copy)
                os.remove(copy)
                results.setdefault("raw S3 PUT (curl)", []).append(put)
                results.setdefault("raw S3 GET (curl)", []).append(get)
                # Each transfer writes a new file, as the raw baselines do (replacing a big file costs
                # the file system time of its own); they are removed after the round, outside the timing.
                target, parts_target = f"{remote_dir}/up.bin", f"{remote_dir}/up-parts.bin"
                with PeakMemory(service) as upload_memory:
                    results.setdefault("end-to-end upload", []).append(
                        timed(lambda: end_to_end_upload(service, local, target)))
                results.setdefault("end-to-end upload, parts", []).append(
                    timed(lambda: end_to_end_upload_in_parts(service, local, parts_target)))
                back = os.path.join(scratch, "back.bin")
                task_box = {}
                with PeakMemory(service) as download_memory:
                    results.setdefault("end-to-end download", []).append(timed(
                        lambda: task_box.setdefault("id", end_to_end_download(service, target, back))))
                service.invalidate(task_box["id"])
                assert sha256(back) == expected, "the file came back different"
                os.remove(back)
                subprocess.run(["runuser", "-u", "alice", "--", "rm", "--", target, parts_target], check=True)
                memory[size] = max(memory.get(size, (0, 0)), (upload_memory.peak, upload_memory.before),
                                   (download_memory.peak, download_memory.before))
            small = os.path.join(scratch, "small.bin")
            subprocess.run(["head", "-c", str(args.small_mib * MiB), local], stdout=open(small, "wb"), check=True)
            with PeakMemory(service) as small_memory:
                end_to_end_upload(service, small, f"{remote_dir}/small.bin")
                task_id = end_to_end_download(service, f"{remote_dir}/small.bin", small + ".back")
            service.invalidate(task_id)
            memory[args.small_mib * MiB] = (small_memory.peak, small_memory.before)
        finally:
            subprocess.run(["runuser", "-u", "alice", "--", "rm", "-rf", "--", remote_dir], check=True)

    best = {name: min(samples) for name, samples in results.items()}
    slowest_raw = max(best[name] for name in best if name.startswith("raw"))
    print(f"staging benchmark: {args.size_mib} MiB, {args.rounds} rounds (best of), throughput in MiB/s")
    for name, samples in results.items():
        line = f"  {name:24s} best {best[name]:7.2f} s  median {statistics.median(samples):7.2f} s  " \
               f"{args.size_mib / best[name]:7.1f} MiB/s"
        if name.startswith("end-to-end"):
            line += f"  = {slowest_raw / best[name] * 100:5.1f}% of the slowest raw baseline"
        print(line)
    two_hops = best["raw S3 PUT (curl)"] + best["raw S3 GET (curl)"]
    print(f"  raw PUT then GET (both hops, by hand): {two_hops:.2f} s; end-to-end upload is "
          f"{two_hops / best['end-to-end upload'] * 100:.1f}% of it, download "
          f"{two_hops / best['end-to-end download'] * 100:.1f}%")
    if service.restarted:
        print("  (the service was restarted during the run; its memory figures span two processes)")
    for transferred, (peak, before) in sorted(memory.items()):
        print(f"  service RSS during {transferred // MiB:5d} MiB transfers: peak {peak / MiB:6.1f} MiB "
              f"(before: {before / MiB:6.1f} MiB)")


if __name__ == "__main__":
    main()
