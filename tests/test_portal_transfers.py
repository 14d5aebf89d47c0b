"""The transfers page in Debian's Chromium: a staged upload started on the files page is shown, live,
through to its completion with its bytes; a staged download with its link; another user sees none of it."""

from __future__ import annotations

import os
from urllib.parse import quote

import pytest
import requests
from conftest import API_URL
from portal_support import PORTAL_URL, chromium, log_in
from test_portal_files import LISTED, folder  # noqa: F401 (folder: a fixture, a fresh private folder of alice's)

pytestmark = pytest.mark.cluster

STAGED_SIZE = 24 * 1024 * 1024  # above the demo's multipart threshold (16 MiB)


def task_row(task_id: str) -> str:
    return f'#transfers tr[data-task="{task_id}"]'


async def test_a_staged_upload_and_download_are_shown_to_completion(alice, folder, tmp_path):  # noqa: F811
    large = tmp_path / "staged.dat"
    large.write_bytes(os.urandom(STAGED_SIZE))
    async with chromium() as browser:
        visitor = await log_in(browser, "alice")
        transfers = await visitor.open("transfers", ready="#transfers table, #transfers p")
        files = await transfers.context.new_page()
        await files.goto(f"{PORTAL_URL}files?system=cluster&path={quote(folder)}")
        await files.wait_for_selector(LISTED)
        await files.set_input_files("#files-picker", str(large))

        # on the other page, without a reload: the upload appears and runs to 114 with all its bytes
        upload = await transfers.wait_for_selector(f'#transfers tr[data-kind="xfer-external-upload"][data-status="114"]'
                                                   f':has-text("{folder}/staged.dat")', timeout=120_000)
        text = await upload.inner_text()
        assert "24 MiB of 24 MiB" in text, text

        await files.click('#files-listing tr[data-name="staged.dat"] .files-actions-toggle')
        await files.click('.files-actions-row button:has-text("Download")')
        download = await transfers.wait_for_selector(f'#transfers tr[data-kind="xfer-external-download"][data-status="117"]'
                                                     f':has-text("{folder}/staged.dat")', timeout=120_000)
        assert "Save the file" in await download.inner_text()
        await files.close()
        await visitor.screenshots("transfers")
        visitor.assert_no_problems()


async def test_an_internal_transfer_is_shown_with_what_it_does_to_its_end(alice, folder, alice_token):  # noqa: F811
    assert (await alice.run(["bash", "-c", 'echo data > "$1"', "x", f"{folder}/a.txt"])).ok
    async with chromium() as browser:
        visitor = await log_in(browser, "alice")
        transfers = await visitor.open("transfers", ready="#transfers table, #transfers p")
        answer = requests.post(f"{API_URL}/storage/xfer-internal/cp",
                               data={"sourcePath": f"{folder}/a.txt", "targetPath": f"{folder}/b.txt"},
                               headers={"Authorization": f"token {alice_token}", "X-Machine-Name": "cluster"},
                               timeout=30)
        assert answer.status_code == 201, answer.text
        row = await transfers.wait_for_selector(f'{task_row(answer.json()["task_id"])}[data-status="200"]',
                                                timeout=60_000)
        text = await row.inner_text()
        assert f"cp {folder}/a.txt {folder}/b.txt" in text and "Transfer job" in text, text
        visitor.assert_no_problems()


async def test_bob_sees_none_of_alices_transfers(alice, folder, alice_token):  # noqa: F811
    assert (await alice.run(["bash", "-c", 'head -c 1000 /dev/urandom > "$1"', "x", f"{folder}/mine.dat"])).ok
    answer = requests.post(f"{API_URL}/storage/xfer-external/download", data={"sourcePath": f"{folder}/mine.dat"},
                           headers={"Authorization": f"token {alice_token}", "X-Machine-Name": "cluster"}, timeout=30)
    assert answer.status_code == 201, answer.text
    task_id = answer.json()["task_id"]
    async with chromium() as browser:
        alices = await log_in(browser, "alice")
        await (await alices.open("transfers")).wait_for_selector(task_row(task_id))
        bob = await log_in(browser, "bob")
        page = await bob.open("transfers", ready="#transfers table, #transfers p")
        assert await page.locator(task_row(task_id)).count() == 0
        assert folder not in await page.content()
        alices.assert_no_problems()
        bob.assert_no_problems()
