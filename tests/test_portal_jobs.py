"""The portal's jobs, job and compose pages in the browser (Playwright, Debian's Chromium), against the demo:
compose and submit, follow a job to its end without reloading, Slurm's refusal, cancel, the lists and their
filters, a hostile job name shown as text, and bob seeing nothing of alice's jobs."""

from __future__ import annotations

import re

import pytest
from compute_support import HELD, cancel_quietly, submit
from portal_support import chromium, log_in

pytestmark = pytest.mark.cluster

HOSTILE = "<img src=x onerror=alert(1)>"
# A page that reloaded has lost this mark.
MARK = "window.__portalTestMark = 'still here'"


async def sbatch(session, *options: str) -> str:
    """A held job (it would start in ten minutes) submitted as the session's user; its id."""
    done = await session.run(["sbatch", "--parsable", "--begin=now+600", *options, "--wrap=true"])
    assert done.ok, done.stderr
    return done.stdout.strip().split(";")[0]


async def test_compose_from_a_template_watch_it_complete_and_read_its_output():
    async with chromium() as browser:
        visitor = await log_in(browser, "alice")
        page = await visitor.open("compose")
        await page.wait_for_selector("#template option", state="attached")
        await page.select_option("#template", label="Hello world")
        await page.wait_for_selector("#partition option[value=debug]", state="attached", timeout=20_000)
        assert "echo \"Hello from" in await page.input_value("#script")
        await page.fill("#job-name", "portal-hello")
        await page.press("#job-name", "Tab")
        await page.select_option("#partition", "debug")
        script = await page.input_value("#script")
        assert "#SBATCH --job-name=portal-hello" in script and "#SBATCH --partition=debug" in script
        assert "debug" in await page.inner_text("#partition-limits")
        await visitor.screenshots("compose")
        await page.click("#submit-job")
        await page.wait_for_url(re.compile(r".*/jobs/[0-9]+\?system=cluster"), timeout=30_000)
        jobid = page.url.split("/jobs/")[1].split("?")[0]
        await page.evaluate(MARK)
        await page.wait_for_selector("#job-state .state-COMPLETED", timeout=90_000)
        await page.wait_for_selector("#job-out:has-text('Hello from')", timeout=30_000)
        assert await page.evaluate("window.__portalTestMark") == "still here"
        assert "portal-hello" in await page.inner_text("#job-name")
        assert await page.is_hidden("#cancel-job")
        await page.wait_for_selector("#job-details:has-text('Exit code')", timeout=30_000)
        assert "Job " + jobid in await page.inner_text("h1")
        await visitor.screenshots("job")
        visitor.assert_no_problems()


async def test_slurms_refusal_is_shown_next_to_the_script():
    async with chromium() as browser:
        visitor = await log_in(browser, "alice")
        page = await visitor.open("compose")
        await page.wait_for_selector("#template option", state="attached")
        await page.fill("#script", "#!/bin/bash\n#SBATCH --partition=nosuch\n#SBATCH --job-name=refused\ntrue\n")
        assert "nosuch" in await page.inner_text("#partition")  # the form follows the script
        await page.click("#submit-job")
        alert = await page.wait_for_selector("#submit-error .alert-danger", timeout=30_000)
        assert "partition" in (await alert.inner_text()).lower()
        assert "is-invalid" in await page.get_attribute("#script", "class")
        assert "/compose" in page.url
        await visitor.screenshots("compose-refused")
        visitor.assert_no_problems()


async def test_cancel_a_running_job_from_its_page(alice_token, alice):
    job = await submit(alice_token, "#!/bin/bash\n#SBATCH --job-name=portal-sleeper\nsleep 300\n")
    try:
        async with chromium() as browser:
            visitor = await log_in(browser, "alice")
            page = await visitor.open(f"jobs/{job['jobid']}?system=cluster", ready="#job-state .state")
            await page.wait_for_selector("#job-state .state-RUNNING", timeout=60_000)
            await page.wait_for_selector("#out-path:has-text('slurm-')", timeout=30_000)
            await page.click("#cancel-job")
            assert await page.is_visible("#cancel-confirm")
            await page.click("#cancel-no")
            assert await page.is_hidden("#cancel-confirm")
            await page.click("#cancel-job")
            await page.click("#cancel-yes")
            await page.wait_for_selector("#job-state .state-CANCELLED", timeout=60_000)
            assert "was cancelled" in await page.inner_text("#cancel-result")
            assert await page.is_hidden("#cancel-job")
            visitor.assert_no_problems()
    finally:
        await cancel_quietly(alice, job["jobid"])


async def test_the_jobs_list_and_history_with_filters(alice_token, alice):
    held = await submit(alice_token, HELD.replace("#!/bin/bash\n", "#!/bin/bash\n#SBATCH --job-name=portal-held\n"))
    done = await submit(alice_token, "#!/bin/bash\n#SBATCH --job-name=portal-quick\necho quick\n")
    try:
        async with chromium() as browser:
            visitor = await log_in(browser, "alice")
            page = await visitor.open("jobs", ready=f"#active-jobs tr[data-jobid='{held['jobid']}']")
            row = page.locator(f"#active-jobs tr[data-jobid='{held['jobid']}']")
            assert "PENDING" in await row.inner_text() and "portal-held" in await row.inner_text()
            href = await row.locator("a").get_attribute("href")
            assert href.endswith(f"/jobs/{held['jobid']}?system=cluster")
            await page.select_option("#filter-state", "RUNNING")
            await page.wait_for_selector(f"#active-jobs tr[data-jobid='{held['jobid']}']", state="detached")
            await page.select_option("#filter-state", "")
            await page.fill("#filter-name", "held")
            await page.wait_for_selector(f"#active-jobs tr[data-jobid='{held['jobid']}']")
            assert await page.locator("#active-jobs tbody tr").count() >= 1
            assert all("held" in name for name in await page.locator("#active-jobs .job-name").all_inner_texts())
            # The quick job reaches the accounting: ask the history again until it shows there.
            await page.fill("#filter-name", "portal-quick")
            await page.select_option("#filter-state", "COMPLETED")
            for _ in range(30):
                await page.click("#history-form button[type=submit]")
                await page.wait_for_selector("#history-jobs table, #history-jobs p:not(:has-text('Asking'))")
                if await page.locator(f"#history-jobs tr[data-jobid='{done['jobid']}']").count():
                    break
                await page.wait_for_timeout(1000)  # a bounded retry (30 s), while sacct learns the job's end
            history_row = page.locator(f"#history-jobs tr[data-jobid='{done['jobid']}']")
            assert "COMPLETED" in await history_row.inner_text()
            assert all("portal-quick" in name for name in await page.locator("#history-jobs .job-name").all_inner_texts())
            await page.fill("#filter-name", "")
            await page.select_option("#filter-state", "")
            await visitor.screenshots("jobs")
            visitor.assert_no_problems()
    finally:
        await cancel_quietly(alice, held["jobid"], done["jobid"])


async def test_a_hostile_job_name_is_shown_as_text_and_runs_nothing(alice):
    jobid = await sbatch(alice, f"--job-name={HOSTILE}")
    try:
        async with chromium() as browser:
            visitor = await log_in(browser, "alice")
            dialogs = []
            visitor.page.on("dialog", lambda dialog: dialogs.append(dialog.message))
            page = await visitor.open("jobs", ready=f"#active-jobs tr[data-jobid='{jobid}']")
            name = page.locator(f"#active-jobs tr[data-jobid='{jobid}'] .job-name")
            assert await name.inner_text() == HOSTILE
            assert await page.locator("main img").count() == 0
            await visitor.open(f"jobs/{jobid}?system=cluster", ready="#job-state .state")
            assert await page.inner_text("#job-name") == HOSTILE
            assert await page.locator("main img").count() == 0
            await page.wait_for_timeout(500)  # give an injected handler its chance to fire
            assert dialogs == []
            visitor.assert_no_problems()
    finally:
        await cancel_quietly(alice, jobid)


async def test_bob_sees_none_of_alices_jobs(alice):
    jobid = await sbatch(alice, "--job-name=alice-private")
    try:
        async with chromium() as browser:
            visitor = await log_in(browser, "bob")
            page = await visitor.open(f"jobs/{jobid}?system=cluster", ready="#job-missing:not([hidden])")
            message = await page.inner_text("#job-missing")
            assert f"no job {jobid}" in message
            assert "alice" not in (await page.inner_text("main")).lower()
            assert await page.is_hidden("#job-found")
            await visitor.open("jobs", ready="#active-jobs table, #active-jobs p:not(:has-text('Loading'))")
            await page.wait_for_selector("#history-jobs table, #history-jobs p:not(:has-text('Asking'))")
            assert await page.locator(f"tr[data-jobid='{jobid}']").count() == 0
            assert "alice-private" not in await page.inner_text("main")
            await visitor.screenshots("jobs-bob")
            # The page of an unknown job is a 404 of the data endpoint: the console names it, nothing else.
            assert all("404" in problem for problem in visitor.problems), visitor.problems
    finally:
        await cancel_quietly(alice, jobid)


async def test_an_unknown_job_says_so():
    async with chromium() as browser:
        visitor = await log_in(browser, "alice")
        page = await visitor.open("jobs/999999?system=cluster", ready="#job-missing:not([hidden])")
        assert "no job 999999" in await page.inner_text("#job-missing")
        assert await page.get_attribute("#job-missing a", "href") == "/services/firecrest/jobs"
        assert await page.is_hidden("#job-found")
