"""A scientist in the browser: log in, fill the spawn form, land in JupyterLab (Playwright, Debian's Chromium).

Screenshots go to .demo/screenshots/.
"""

from __future__ import annotations

import pytest
from conftest import DEMO, HUB_URL
from playwright.sync_api import sync_playwright
from test_spawner_hub import server_of, slurm, stop_server

pytestmark = pytest.mark.cluster

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--disable-quic", "--no-first-run"]
SCREENSHOTS = DEMO / "screenshots"


@pytest.fixture
def page(admin_token):
    stop_server(admin_token, "alice")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.set_default_timeout(30_000)
        yield page
        browser.close()
    stop_server(admin_token, "alice")


def test_log_in_fill_the_form_and_land_in_jupyterlab(page, admin_token):
    page.goto(f"{HUB_URL}/hub/login")
    page.fill("#username_input", "alice")
    page.fill("#password_input", "firecrest-demo")
    page.click("#login_submit")
    page.goto(f"{HUB_URL}/hub/spawn")
    page.wait_for_selector("#firecrest-options")
    assert "debug" in page.inner_text("#firecrest-limits")
    assert page.is_hidden("#firecrest-gpus-field")  # the dev cluster has no GPUs
    page.select_option("#firecrest-partition", "debug")
    page.fill("#firecrest-cpus", "2")
    page.fill("#firecrest-memory", "1G")
    page.fill("#firecrest-runtime", "00:20:00")
    page.screenshot(path=str(SCREENSHOTS / "spawner-form.png"), full_page=True)

    page.click("#spawn_form button[type=submit]")
    page.wait_for_url("**/user/alice/lab**", timeout=120_000)
    page.wait_for_selector("#jp-main-dock-panel", timeout=60_000)
    page.wait_for_selector(".jp-LauncherCard", timeout=60_000)
    page.screenshot(path=str(SCREENSHOTS / "spawner-jupyterlab.png"))

    jobid = server_of(admin_token, "alice")["state"]["job_id"]
    user, cpus, time_limit = slurm("squeue", "--noheader", f"--jobs={jobid}", "--format=%u %C %l").split()
    assert (user, cpus, time_limit) == ("alice", "2", "20:00")

    # The form remembers the last start.
    stop_server(admin_token, "alice")
    page.goto(f"{HUB_URL}/hub/spawn")
    page.wait_for_selector("#firecrest-options")
    assert page.input_value("#firecrest-cpus") == "2"
    assert page.input_value("#firecrest-runtime") == "00:20:00"
