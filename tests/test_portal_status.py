"""The portal's status page in the browser: the systems, partitions with free/total nodes and CPUs and the
load chart (inline SVG), my jobs of the week as a timeline, nodes and reservations."""

from __future__ import annotations

import pytest
from compute_support import submit
from portal_support import chromium, log_in

pytestmark = pytest.mark.cluster


async def test_the_status_page_shows_partitions_nodes_and_the_charts(alice_token):
    # At least one job of the week, so that the timeline has a bar.
    await submit(alice_token, "#!/bin/bash\n#SBATCH --job-name=portal-status\ntrue\n")
    async with chromium() as browser:
        visitor = await log_in(browser, "alice")
        page = await visitor.open("status", ready="#partitions table")
        partitions = await page.inner_text("#partitions")
        assert "debug" in partitions and "xfer" in partitions and "default" in partitions
        assert " / 64" in partitions  # free of total CPUs
        await page.wait_for_selector("#systems:has-text('cluster')")
        assert "available" in await page.inner_text("#systems")
        await page.wait_for_selector("#nodes table")
        assert "localhost" in await page.inner_text("#nodes")
        await page.wait_for_selector("#reservations table, #reservations p:has-text('No reservations')")
        chart = page.locator("#load-chart svg[role=img]")
        assert "debug" in await chart.get_attribute("aria-label")
        assert await page.locator("#load-chart svg rect.bar-idle, #load-chart svg rect.bar-allocated").count() >= 2
        await page.wait_for_selector("#timeline-chart svg rect[class^=span-]", state="attached", timeout=30_000)
        assert await page.locator("#timeline-chart details li").count() >= 1
        await visitor.screenshots("status")
        visitor.assert_no_problems()
