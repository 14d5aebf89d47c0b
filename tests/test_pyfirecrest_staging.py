"""The unmodified pyfirecrest v1 client stages files through the service and the real SeaweedFS:
external_upload + finish_upload, external_download + finish_download, invalidate. Every file is
compared with its original (sha256 on the cluster for uploads, bytes for downloads).

Sizes are chosen around the demo's settings (jupyterhub_config.py): 20 and 48 MiB are above its multipart
threshold of 16 MiB, so the cluster pushes those downloads in parts of 8 MiB and fetches those uploads in
byte ranges side by side (pyfirecrest itself always sends one PUT).
"""

from __future__ import annotations

import hashlib
import os
import time
import uuid

import pytest
import requests
from firecrest.FirecrestException import StorageUploadException
from firecrest.v1 import Firecrest

from conftest import API_URL, HubToken

pytestmark = pytest.mark.cluster

MACHINE = "cluster"
MiB = 1024 * 1024


@pytest.fixture
def client(alice_token) -> Firecrest:
    return Firecrest(firecrest_url=API_URL, authorization=HubToken(alice_token))


@pytest.fixture
async def work(alice):
    path = f"/home/alice/fc-pyfirecrest-staging-{uuid.uuid4().hex[:10]}"
    assert (await alice.run(["mkdir", "--", path])).ok
    yield path
    await alice.run(["rm", "-rf", "--", path])


def until_done(transfer, timeout: float = 120) -> str:
    deadline = time.monotonic() + timeout
    while transfer.in_progress:
        assert time.monotonic() < deadline, f"transfer stuck at {transfer.status}"
        time.sleep(0.2)
    return transfer.status


async def cluster_sha256(session, path: str) -> str:
    result = await session.run(["sha256sum", "--", path])
    assert result.ok, result.stderr
    return result.stdout.split()[0]


@pytest.mark.parametrize("size", [48 * MiB, 20 * MiB + 3])
async def test_external_upload(client, alice, work, tmp_path, size):
    local = tmp_path / "upload.bin"
    data = os.urandom(size)
    local.write_bytes(data)
    upload = client.external_upload(MACHINE, str(local), work)
    upload.finish_upload()
    assert until_done(upload) == "114"
    assert upload.data["target"] == f"{work}/upload.bin"
    assert await cluster_sha256(alice, f"{work}/upload.bin") == hashlib.sha256(data).hexdigest()
    assert (await alice.run(["ls", "-A", "--", work])).stdout.split() == ["upload.bin"]


async def test_external_upload_to_a_file_name(client, alice, work, tmp_path):
    local = tmp_path / "local-name.txt"
    local.write_bytes(b"small but staged\n")
    upload = client.external_upload(MACHINE, str(local), f"{work}/renamed.txt")
    upload.finish_upload()
    assert until_done(upload) == "114"
    assert (await alice.run(["cat", "--", f"{work}/renamed.txt"])).stdout == "small but staged\n"


@pytest.mark.parametrize("size", [48 * MiB, 20 * MiB + 3, 1000])
async def test_external_download(client, alice, work, tmp_path, size):
    source = f"{work}/result.bin"
    assert (await alice.run(["bash", "-c", f'head -c {size} /dev/urandom > "$1"', "x", source])).ok
    download = client.external_download(MACHINE, source)
    assert until_done(download) == "117"
    local = tmp_path / "result.bin"
    download.finish_download(str(local))
    assert local.stat().st_size == size
    assert hashlib.sha256(local.read_bytes()).hexdigest() == await cluster_sha256(alice, source)

    link = download.object_storage_link
    download.invalidate_object_storage_link()
    assert requests.get(link, timeout=30).status_code == 404


async def test_failed_upload_raises_in_the_client(client, work, tmp_path):
    local = tmp_path / "f.bin"
    local.write_bytes(b"x")
    upload = client.external_upload(MACHINE, str(local), f"{work}/f.bin")
    client._invalidate(upload.task_id)
    with pytest.raises(StorageUploadException):
        until_done(upload)
