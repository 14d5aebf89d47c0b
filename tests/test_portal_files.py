"""The files page in Debian's Chromium, logged in through the hub as alice (and bob): browse, sort and
page; uploads through the service and staged through the object store, with progress, and downloads of
both compared byte for byte; folder, rename, copy, permissions, view and delete; a hostile file name;
another user's private folder."""

from __future__ import annotations

import hashlib
import os
import secrets
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from conftest import async_wait_for
from portal_support import chromium, log_in

pytestmark = pytest.mark.cluster

SYSTEM = "cluster"
PAGE_SIZE = 200  # Portal.listing_page_size's default, which the demo keeps
STAGED_SIZE = 24 * 1024 * 1024  # above the demo's ObjectStore.multipart_threshold (16 MiB)
HOSTILE = "<img src=x onerror=alert(1)>"


@pytest.fixture
async def folder(alice):
    """A fresh private folder of alice's, removed afterwards."""
    path = f"/home/alice/portal-files-{secrets.token_hex(4)}"
    assert (await alice.run(["mkdir", "-m", "700", "--", path])).ok
    yield path
    await alice.run(["rm", "-rf", "--", path])


def files_url(path: str) -> str:
    return f"files?system={SYSTEM}&path={quote(path)}"


# The folder's listing, its "empty" words or its error: the listing is no longer busy.
LISTED = "#files-listing:not([aria-busy]) :is(table, p), #files-error .alert-danger"


async def open_folder(visitor, path: str):
    return await visitor.open(files_url(path), ready=LISTED)


def row(name: str) -> str:
    return f'#files-listing tr[data-name="{name}"]'


async def sha256_on_system(alice, path: str) -> str:
    return (await alice.run(["sha256sum", "--", path])).stdout.split()[0]


async def folder_is_empty(alice, folder: str) -> bool:
    return (await alice.run(["ls", "-A", "--", folder])).stdout == ""


async def record_transfer_states(page) -> None:
    """Keeps every text the upload and download list shows in window.seenStates (progress is fleeting)."""
    await page.evaluate("""() => {
        window.seenStates = [];
        new MutationObserver(() => document.querySelectorAll('.files-transfer-state').forEach(
            (node) => window.seenStates.push(node.closest('.files-transfer').dataset.name + ': ' + node.textContent)))
          .observe(document.getElementById('files-transfers'), {subtree: true, childList: true, characterData: true});
    }""")


async def finished_transfer(page, verb: str, name: str, timeout: float = 120_000) -> str:
    selector = f'.files-transfer[data-verb="{verb}"][data-name="{name}"]:not([data-state="running"])'
    node = await page.wait_for_selector(selector, timeout=timeout)
    state = await node.get_attribute("data-state")
    assert state == "done", await node.inner_text()
    return await node.inner_text()


async def open_actions(page, name: str):
    await page.click(f'{row(name)} .files-actions-toggle')
    return page.locator(".files-actions-row")


async def test_browse_sort_hidden_files_and_pages(alice, folder):
    # 450 files, their sizes growing with their number, a hidden file and a sub-folder
    script = 'cd "$1" && for i in $(seq -w 1 450); do head -c "$((10#$i * 10))" /dev/zero > "file-$i"; done ' \
             '&& echo secret > .hidden && mkdir sub && touch sub/inside'
    assert (await alice.run(["bash", "-c", script, "x", folder])).ok
    async with chromium() as browser:
        visitor = await log_in(browser, "alice")
        page = await open_folder(visitor, folder)
        assert await page.locator("#files-listing tbody tr").count() == PAGE_SIZE
        assert await page.locator("#files-listing tbody tr").first.get_attribute("data-name") == "sub"  # folders first
        assert "entries 1–200 of 451" in await page.inner_text("#files-range")
        assert await page.locator(row(".hidden")).count() == 0
        await page.click("#files-next")
        await page.wait_for_selector("#files-range:has-text('entries 201–400 of 451')")
        assert await page.locator(row("file-200")).count() == 1
        await page.select_option("#files-page", "3")
        await page.wait_for_selector(row("file-450"))

        await page.click('button[data-sort="size"]')  # ascending: folder, then the smallest file
        await page.click('button[data-sort="size"]')  # descending
        await page.wait_for_selector('th[aria-sort="descending"] button[data-sort="size"]')
        names = await page.locator("#files-listing tbody tr").evaluate_all("rows => rows.map(r => r.dataset.name)")
        assert names[:3] == ["sub", "file-450", "file-449"]

        await page.click('button[data-sort="name"]')
        await page.check("#files-hidden")
        await page.wait_for_selector(row(".hidden"))
        await visitor.screenshots("files")

        await page.click(f'{row("sub")} a.files-folder')
        await page.wait_for_selector(row("inside"))
        assert parse_qs(urlsplit(page.url).query)["path"] == [f"{folder}/sub"]
        crumbs = await page.inner_text("#files-breadcrumbs")
        assert crumbs.split("\n")[-2:] == [folder.rsplit("/", 1)[1], "sub"], crumbs
        await page.click(f'#files-breadcrumbs a:text-is("{folder.rsplit("/", 1)[1]}")')
        await page.wait_for_selector(row("file-001"))
        await page.go_back()
        await page.wait_for_selector(row("inside"))
        visitor.assert_no_problems()


async def test_uploads_small_and_staged_with_progress_then_downloads(alice, folder, tmp_path):
    small, large = tmp_path / "small.dat", tmp_path / "large.dat"
    small.write_bytes(os.urandom(300 * 1024))
    large.write_bytes(os.urandom(STAGED_SIZE))
    async with chromium() as browser:
        visitor = await log_in(browser, "alice")
        page = await open_folder(visitor, folder)
        await record_transfer_states(page)
        await page.set_input_files("#files-picker", [str(small), str(large)])
        assert "Uploaded to" in await finished_transfer(page, "Upload", "small.dat")
        await finished_transfer(page, "Upload", "large.dat")
        seen = await page.evaluate("window.seenStates")
        large_states = [text.removeprefix("large.dat: ") for text in seen if text.startswith("large.dat: ")]
        assert any(text.startswith("Sending to the object store:") and "of 24 MiB" in text for text in large_states), seen
        # One bar, one story: the system's progress only once the browser has sent every part.
        moving = [n for n, text in enumerate(large_states) if text.startswith("Moving onto the system")]
        assert not moving or moving[0] > large_states.index("Sent; the system is fetching the file…"), large_states
        assert await page.get_attribute('.files-transfer[data-name="large.dat"] .files-progress', "aria-valuenow") == "100"
        for local in (small, large):
            assert await sha256_on_system(alice, f"{folder}/{local.name}") == hashlib.sha256(local.read_bytes()).hexdigest()

        # dropped onto the listing: a file made in the page
        await page.evaluate("""() => {
            const transfer = new DataTransfer();
            transfer.items.add(new File(['dropped here'], 'dropped.txt', {type: 'text/plain'}));
            document.getElementById('files-drop').dispatchEvent(new DragEvent('drop', {dataTransfer: transfer, bubbles: true}));
        }""")
        await finished_transfer(page, "Upload", "dropped.txt")
        await page.wait_for_selector(row("dropped.txt"))
        assert (await alice.run(["cat", "--", f"{folder}/dropped.txt"])).stdout == "dropped here"

        # the small file through the service, the large one through a staged link
        actions = await open_actions(page, "small.dat")
        async with page.expect_download() as small_download:
            await actions.get_by_role("button", name="Download").click()
        assert (await (await small_download.value).path()).read_bytes() == small.read_bytes()
        actions = await open_actions(page, "large.dat")
        await actions.get_by_role("button", name="Download").click()
        await finished_transfer(page, "Download", "large.dat")
        async with page.expect_download() as large_download:
            await page.click('.files-transfer[data-verb="Download"][data-name="large.dat"] .files-download-link')
        assert (await (await large_download.value).path()).read_bytes() == large.read_bytes()
        await visitor.screenshots("files-transfers")
        visitor.assert_no_problems()


async def test_a_cancelled_staged_upload_leaves_nothing(alice, folder, tmp_path):
    large = tmp_path / "cancelled.dat"
    large.write_bytes(os.urandom(STAGED_SIZE))
    async with chromium() as browser:
        visitor = await log_in(browser, "alice")
        page = await open_folder(visitor, folder)
        await page.set_input_files("#files-picker", str(large))
        await page.click('.files-transfer[data-name="cancelled.dat"] button:has-text("Cancel")')
        await page.wait_for_selector('.files-transfer[data-name="cancelled.dat"][data-state="cancelled"]')
        await async_wait_for(lambda: folder_is_empty(alice, folder), timeout=30, what="nothing left in the folder")
        visitor.assert_no_problems()


async def test_new_folder_rename_copy_permissions_view_and_delete(alice, folder):
    assert (await alice.run(["bash", "-c", 'printf "line one\\nline two\\n" > "$1/notes.txt"', "x", folder])).ok
    async with chromium() as browser:
        visitor = await log_in(browser, "alice")
        page = await open_folder(visitor, folder)

        await page.click("#files-new-folder")
        await page.fill("#files-folder-name", "made")
        await page.click('#files-folder-form button[type="submit"]')
        await page.wait_for_selector(row("made"))

        actions = await open_actions(page, "notes.txt")
        await actions.get_by_role("button", name="View").click()
        await page.wait_for_selector("#files-viewer:not([hidden])")
        assert await page.inner_text("#files-viewer-text") == "line one\nline two\n"
        await page.click("#files-viewer-close")

        await actions.get_by_role("button", name="Rename or move").click()
        await actions.get_by_label("New path of notes.txt").fill(f"{folder}/made/renamed.txt")
        await actions.locator('button[type="submit"]').click()
        await page.wait_for_selector(f'{row("notes.txt")} >> nth=0', state="detached")
        await page.click(f'{row("made")} a')
        await page.wait_for_selector(row("renamed.txt"))

        actions = await open_actions(page, "renamed.txt")
        await actions.get_by_role("button", name="Copy").click()
        await actions.locator('button[type="submit"]').click()
        await page.wait_for_selector(row("renamed copy.txt"))

        actions = await open_actions(page, "renamed copy.txt")
        await actions.get_by_role("button", name="Permissions").click()
        mode = actions.get_by_label("Permissions of renamed copy.txt")
        assert await mode.input_value() == "644"
        await mode.fill("600")
        await actions.locator('button[type="submit"]').click()
        await page.wait_for_selector(f'{row("renamed copy.txt")} td.mono:text-is("-rw-------")')

        actions = await open_actions(page, "renamed copy.txt")
        await actions.get_by_role("button", name="Permissions").click()
        await actions.get_by_label("Permissions of renamed copy.txt").fill("not-a-mode")
        await actions.locator('button[type="submit"]').click()
        error = await page.wait_for_selector(".files-actions-row .alert-danger")
        assert "not-a-mode" in await error.inner_text() or "mode" in (await error.inner_text()).lower()
        await actions.get_by_role("button", name="Close").click()

        await page.click('#files-breadcrumbs a:text-is("%s")' % folder.rsplit("/", 1)[1])
        actions = await open_actions(page, "made")
        await actions.get_by_role("button", name="Delete").click()
        await actions.get_by_role("button", name="Delete the folder").click()
        await page.wait_for_selector(row("made"), state="detached")
        await visitor.screenshots("files-actions")
        # a mode refused by chmod is the one 400 the browser reports on its console
        assert all("status of 400" in problem for problem in visitor.problems), visitor.problems
    listing = (await alice.run(["ls", "-A", "--", folder])).stdout
    assert listing == "", listing


async def test_a_hostile_file_name_is_shown_as_text(alice, folder):
    path = f"{folder}/{HOSTILE}"
    assert (await alice.run(["bash", "-c", 'printf "<script>alert(2)</script>" > "$1"', "x", path])).ok
    async with chromium() as browser:
        visitor = await log_in(browser, "alice")
        dialogs = []
        visitor.page.on("dialog", lambda dialog: dialogs.append(dialog.message))
        page = await open_folder(visitor, folder)
        name = page.locator("#files-listing tbody tr .files-file")
        assert await name.inner_text() == HOSTILE
        assert await page.locator("main img").count() == 0
        actions = await open_actions(page, HOSTILE)
        await actions.get_by_role("button", name="View").click()
        await page.wait_for_selector("#files-viewer:not([hidden])")
        assert await page.inner_text("#files-viewer-text") == "<script>alert(2)</script>"
        assert await page.inner_text("#files-viewer-name") == HOSTILE
        assert await page.locator("main script").count() == 0
        assert dialogs == []
        visitor.assert_no_problems()


async def test_bob_sees_none_of_alices_files(alice, folder):
    assert (await alice.run(["touch", "--", f"{folder}/alice-only.txt"])).ok
    async with chromium() as browser:
        visitor = await log_in(browser, "bob")
        page = await open_folder(visitor, folder)
        error = await page.wait_for_selector("#files-error .alert-danger")
        assert "denied" in (await error.inner_text()).lower()
        assert await page.locator("#files-listing tr").count() == 0
        assert "alice-only" not in await page.content()
        # the refusal itself, which Chromium reports on the console
        assert all("Failed to load resource" in problem for problem in visitor.problems), visitor.problems
