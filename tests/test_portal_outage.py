"""The portal while a part is down: with the object store stopped, every page says so in its banner and
the rest keeps working (the files page lists alice's files); once the store is back, the banner goes."""

from __future__ import annotations

import subprocess

import pytest
import requests

from compute_support import call
from conftest import ROOT, wait_for
from portal_support import chromium, log_in

pytestmark = pytest.mark.cluster

CLUSTER = ["bash", str(ROOT / "devcluster" / "cluster.sh")]


def storage_status(token: str) -> str | None:
    try:
        services = call("GET", "status/services", token, machine=None).json()["out"]
    except (requests.RequestException, ValueError, KeyError):
        return None
    return next((service["status"] for service in services if service["service"] == "storage"), None)


def set_store(state: str) -> None:
    subprocess.run([*CLUSTER, "ctl", state, "weed"], check=False, capture_output=True, timeout=120)


@pytest.fixture
def store_down(alice_token):
    set_store("stop")
    try:
        wait_for(lambda: storage_status(alice_token) not in (None, "available"), 60,
                 what="the service to see the object store down")
        yield
    finally:
        set_store("start")  # also when the test failed; a second start of a running one changes nothing
        wait_for(lambda: storage_status(alice_token) == "available", 90, what="the object store back")


async def test_a_store_that_is_down_is_named_in_the_banner_and_the_rest_works(store_down, alice_token):
    async with chromium() as browser:
        visitor = await log_in(browser, "alice")
        for path, ready in (("", "#systems-health .state-ok"), ("files?system=cluster&path=/home/alice",
                                                                 "#files-listing tbody tr")):
            page = await visitor.open(path, ready=ready)
            await page.wait_for_selector("#banner .alert:has-text('object store')")
        await visitor.screenshots("outage")
        assert "Large transfers" in await page.inner_text("#banner")

        set_store("start")
        wait_for(lambda: storage_status(alice_token) == "available", 90, what="the object store back")
        page = await visitor.open("files?system=cluster&path=/home/alice", ready="#files-listing tbody tr")
        await page.wait_for_function("document.querySelector('#banner').children.length === 0")
        visitor.assert_no_problems()
