"""The portal's dashboard in a real browser, logged in through the hub: each system's health, my active
jobs, my recent tasks (the pages' own reads are not among them), live; nothing of another user's."""

from __future__ import annotations

import pytest

from compute_support import HELD, cancel_quietly, submit
from portal_support import chromium, log_in

pytestmark = pytest.mark.cluster


async def test_the_dashboard_shows_health_my_jobs_and_my_tasks(alice_token, alice):
    submitted = await submit(alice_token, HELD, name="dashboard-held.sh")
    jobid = str(submitted["jobid"])
    try:
        async with chromium() as browser:
            visitor = await log_in(browser, "alice")
            page = await visitor.open("", ready="#systems-health .state-ok")
            assert "cluster" in await page.inner_text("#systems-health")
            await page.wait_for_selector(f"#active-jobs a:text-is('{jobid}')")
            await page.wait_for_selector("#recent-tasks td:text-is('Job submission')")
            assert "Job submission" in await page.inner_text("#recent-tasks")
            await visitor.screenshots("dashboard")

            # Live: a cancellation reaches the page through the event stream, without a reload.
            await cancel_quietly(alice, jobid)
            await page.wait_for_selector(f"#active-jobs a:text-is('{jobid}')", state="detached", timeout=30_000)
            visitor.assert_no_problems()

            intruder = await log_in(browser, "bob")
            page = await intruder.open("", ready="#active-jobs table, #active-jobs p")
            await page.wait_for_selector("#recent-tasks table, #recent-tasks p")
            assert jobid not in await page.inner_text("#active-jobs")
            intruder.assert_no_problems()
    finally:
        await cancel_quietly(alice, jobid)


async def test_a_hostile_user_string_stays_text(alice_token, alice):
    """A job named like markup is shown as those characters, and no script of it runs."""
    name = "<img/src=x/onerror=alert(1)>"  # no spaces: sbatch reads the directive up to one
    submitted = await submit(alice_token, f"#!/bin/bash\n#SBATCH --job-name={name}\n#SBATCH --begin=now+600\ntrue\n")
    jobid = str(submitted["jobid"])
    try:
        async with chromium() as browser:
            visitor = await log_in(browser, "alice")
            dialogs = []
            visitor.page.on("dialog", lambda dialog: dialogs.append(dialog.message))
            page = await visitor.open("", ready=f"#active-jobs a:text-is('{jobid}')")
            assert name in await page.inner_text("#active-jobs")
            assert await page.locator("#active-jobs img").count() == 0
            assert dialogs == []
            visitor.assert_no_problems()
    finally:
        await cancel_quietly(alice, jobid)
