"""The unmodified pyfirecrest v2 clients moving data through the v2 API's transfer endpoints: large uploads
and downloads staged through S3, and cp, mv, rm, compress and extract as Slurm jobs, each waited for with
`blocking=True` as the client does it (the job's end, then its output log's "successfully"). Results are
read back on the cluster as alice; the staging area is left empty.

pyfirecrest's rm, compress and extract try the immediate ops endpoint first and use the transfer job only
when that times out; those jobs are started here with the client's own request and wait functions."""

from __future__ import annotations

import hashlib
import os
from urllib.parse import urlsplit

import pytest
import pytest_asyncio
from firecrest.FirecrestException import FirecrestException, TransferJobFailedException
from firecrest.v2 import Firecrest
from traitlets.config import Application

from conftest import HubToken
from firecrest_hub.staging import ObjectStore
from test_pyfirecrest_utilities import on_disk, work  # noqa: F401 (work is a fixture)
from test_pyfirecrest_v2 import MACHINE, V2_URL, async_client, client, status_of  # noqa: F401 (fixtures)

pytestmark = pytest.mark.cluster

MiB = 1024 * 1024


@pytest_asyncio.fixture
async def store(demo_config):
    objects = ObjectStore(parent=Application(config=demo_config))
    await objects.open()
    yield objects
    await objects.close()


def staged_folder(transfer: dict) -> str:
    """The folder in the bucket of an upload, from its first part's URL (/bucket/upload/user/hex/part-1)."""
    path = urlsplit(transfer["transferDirectives"]["partsUploadUrls"][0]).path
    return "/".join(path.split("/")[2:5]) + "/"


async def sha256_on_disk(alice, path: str) -> str:
    return (await on_disk(alice, "sha256sum", "--", path)).split()[0]


async def test_a_24_mib_file_goes_up_and_down_through_staging(client, work, alice, store, tmp_path):
    local = tmp_path / "big.bin"
    local.write_bytes(os.urandom(24 * MiB))
    upload = client.upload(MACHINE, str(local), work, "big.bin")
    transfer = upload.transfer_data
    assert len(transfer["transferDirectives"]["partsUploadUrls"]) >= 1
    assert await sha256_on_disk(alice, f"{work}/big.bin") == hashlib.sha256(local.read_bytes()).hexdigest()
    log = await on_disk(alice, "cat", "--", transfer["transferJob"]["logs"]["outputLog"])
    assert f"File was successfully uploaded: {24 * MiB} bytes in {work}/big.bin" in log
    assert await on_disk(alice, "ls", "-A", "--", work) == "big.bin\nd\nf.txt\n"  # no temporary file left
    assert [key for key, *_ in await store.listing(staged_folder(transfer))] == []

    back = tmp_path / "back.bin"
    download = client.download(MACHINE, f"{work}/big.bin", str(back))
    assert back.read_bytes() == local.read_bytes()
    log = await on_disk(alice, "cat", "--", download.transfer_data["transferJob"]["logs"]["outputLog"])
    assert "File was successfully staged for download" in log


async def test_transfer_jobs_of_each_kind(client, work, alice):
    copied = client.cp(MACHINE, f"{work}/f.txt", f"{work}/copy.txt")
    assert await on_disk(alice, "cat", "--", f"{work}/copy.txt") == "one\ntwo\nthree\n"
    assert "Files were successfully copied." in await on_disk(alice, "cat", "--",
                                                             copied["transferJob"]["logs"]["outputLog"])
    await on_disk(alice, "ln", "-s", "--", f"{work}/f.txt", f"{work}/link")
    client.cp(MACHINE, f"{work}/link", f"{work}/followed", dereference=True)
    assert (await alice.run(["test", "-L", f"{work}/followed"])).exit_status == 1
    client.mv(MACHINE, f"{work}/copy.txt", f"{work}/d/moved.txt")
    assert await on_disk(alice, "ls", "--", f"{work}/d") == "moved.txt\n"

    def transfer(method, endpoint: str, **request):
        answer = client._check_response(method(endpoint=f"/filesystem/{MACHINE}/transfer/{endpoint}", **request),
                                        200 if endpoint == "rm" else 201)
        client._wait_for_transfer_job(answer)  # raises unless the job COMPLETED and says so
        return answer

    transfer(client._post_request, "compress", json_data={"sourcePath": f"{work}/d", "targetPath": f"{work}/d.tgz"})
    assert "moved.txt" in await on_disk(alice, "tar", "-tzf", f"{work}/d.tgz")
    await on_disk(alice, "mkdir", "--", f"{work}/out")
    transfer(client._post_request, "extract", json_data={"sourcePath": f"{work}/d.tgz", "targetPath": f"{work}/out"})
    await on_disk(alice, "test", "-f", f"{work}/out/d/moved.txt")
    transfer(client._delete_request, "rm", params={"path": f"{work}/out"})
    assert not (await alice.run(["test", "-e", f"{work}/out"])).ok


async def test_a_transfer_that_fails_fails_the_client_with_the_reason_in_its_log(client, work, alice):
    with pytest.raises(FirecrestException) as missing:
        client.cp(MACHINE, f"{work}/nothing", f"{work}/x")
    assert status_of(missing) == 404  # refused before any job
    await on_disk(alice, "chmod", "500", "--", f"{work}/d")
    with pytest.raises(TransferJobFailedException) as failed:
        client.cp(MACHINE, f"{work}/f.txt", f"{work}/d/")
    error_log = failed.value._transfer_job_info["transferJob"]["logs"]["errorLog"]
    assert "Permission denied" in await on_disk(alice, "cat", "--", error_log)


async def test_a_completion_that_does_not_match_the_parts_changes_nothing(client, work, alice, tmp_path):
    local = tmp_path / "six.bin"
    local.write_bytes(os.urandom(6 * MiB))
    upload = client.upload(MACHINE, str(local), work, "six.bin", blocking=False)
    urls = upload.transfer_data["transferDirectives"]
    session = client._session
    etags = [session.put(url, content=local.read_bytes()[index * urls["maxPartSize"]:(index + 1) * urls["maxPartSize"]]
                         ).headers["ETag"] for index, url in enumerate(urls["partsUploadUrls"])]
    wrong = "".join(f"<Part><PartNumber>{n}</PartNumber><ETag>\"{'0' * 32}\"</ETag></Part>" for n in range(1, len(etags) + 1))
    refused = session.post(urls["completeUploadUrl"], content=f"<CompleteMultipartUpload>{wrong}</CompleteMultipartUpload>")
    assert refused.status_code == 400 and "ETags" in refused.json()["message"]
    forged = session.post(urls["completeUploadUrl"].replace("signature=", "signature=0"), content=b"<x/>")
    assert forged.status_code == 403
    assert not (await alice.run(["test", "-e", f"{work}/six.bin"])).ok
    right = "".join(f"<Part><PartNumber>{n}</PartNumber><ETag>{etag}</ETag></Part>" for n, etag in enumerate(etags, 1))
    assert session.post(urls["completeUploadUrl"], content=f"<CompleteMultipartUpload>{right}</CompleteMultipartUpload>"
                        ).status_code == 200
    upload.wait_for_transfer_job()
    assert await sha256_on_disk(alice, f"{work}/six.bin") == hashlib.sha256(local.read_bytes()).hexdigest()


def test_bob_cannot_move_alices_files(client, bob_token, work, tmp_path):
    client.chmod(MACHINE, work, "700")
    bob = Firecrest(firecrest_url=V2_URL, authorization=HubToken(bob_token))
    local = tmp_path / "intruder.bin"
    local.write_bytes(b"x" * (6 * MiB))
    for call in (lambda: bob.cp(MACHINE, f"{work}/f.txt", "/home/bob/stolen.txt"),
                 lambda: bob.mv(MACHINE, f"{work}/f.txt", "/home/bob/stolen.txt"),
                 lambda: bob.upload(MACHINE, str(local), work, "intruder.bin"),
                 lambda: bob.download(MACHINE, f"{work}/f.txt", str(tmp_path / "stolen"))):
        with pytest.raises(FirecrestException) as refused:
            call()
        assert status_of(refused) == 403
    assert not (tmp_path / "stolen").exists()


async def test_the_async_client_moves_large_files_and_runs_transfer_jobs(async_client, work, alice, tmp_path):
    local = tmp_path / "seven.bin"
    local.write_bytes(os.urandom(7 * MiB))
    await async_client.upload(MACHINE, str(local), work, "seven.bin")
    assert await sha256_on_disk(alice, f"{work}/seven.bin") == hashlib.sha256(local.read_bytes()).hexdigest()
    back = tmp_path / "back.bin"
    await async_client.download(MACHINE, f"{work}/seven.bin", str(back))
    assert back.read_bytes() == local.read_bytes()
    await async_client.cp(MACHINE, f"{work}/seven.bin", f"{work}/copy.bin")
    await async_client.mv(MACHINE, f"{work}/copy.bin", f"{work}/d/copy.bin")
    assert await sha256_on_disk(alice, f"{work}/d/copy.bin") == hashlib.sha256(local.read_bytes()).hexdigest()
