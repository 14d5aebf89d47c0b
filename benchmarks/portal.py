"""Portal benchmark in Debian's Chromium, logged in through the hub as alice: time to a usable files page
for a folder of 10,000 entries, the weight of each page without cache, and a large upload through the
files page against a raw S3 PUT of the same file in the same run.

    python benchmarks/portal.py [--entries 10000] [--upload-mib 256] [--rounds 5] [--upload-rounds 3]

"Usable" is the moment the first page of rows is in the document, counted from the navigation's start
(performance.now() in the page). A page's weight is the sum of the bytes Chromium received for it
(headers and bodies as sent, compressed where the proxy compresses), the event stream left out, which
never ends. The
upload is timed from choosing the file to the moment the object store has every part ("sent") and to
the file being in place on the system (task 114); the raw PUT is boto3's put_object of the same bytes
with the demo's S3 credentials.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import tempfile
import time
from urllib.parse import quote

import boto3
from botocore.config import Config as BotoConfig
from common import DEMO
from portal_support import PORTAL_URL, chromium, log_in

MiB = 1024 * 1024
PAGES = ["", "files", "jobs", "compose", "transfers", "status"]
WEIGHT_TARGET = 300 * 1024
# Records when the listing first has rows (before the page's own scripts run; CSP does not apply to it).
FIRST_ROWS = """
window.__firstRows = null;
new MutationObserver((_, observer) => {
  if (document.querySelector('#files-listing tbody tr')) {
    window.__firstRows = performance.now();
    observer.disconnect();
  }
}).observe(document, {subtree: true, childList: true});
"""


def as_alice(*argv: str) -> None:
    subprocess.run(["runuser", "-u", "alice", "--", *argv], check=True)


async def time_to_rows(browser, folder: str, rounds: int) -> list[float]:
    visitor = await log_in(browser, "alice")
    await visitor.page.add_init_script(FIRST_ROWS)
    times = []
    for _ in range(rounds):
        await visitor.page.goto(f"{PORTAL_URL}files?system=cluster&path={quote(folder)}")
        await visitor.page.wait_for_selector("#files-listing tbody tr", timeout=30_000)
        times.append(await visitor.page.evaluate("window.__firstRows"))
    rows = await visitor.page.locator("#files-listing tbody tr").count()
    print(f"  rows rendered of one page: {rows}")
    await visitor.page.context.close()
    return times


async def weight(request) -> int:
    """A response's bytes as they crossed the network: its headers and its body as sent (compressed
    where the proxy compresses it)."""
    sizes = await request.sizes()
    return max(sizes["responseHeadersSize"], 0) + max(sizes["responseBodySize"], 0)


async def page_weights(browser) -> dict[str, int]:
    visitor = await log_in(browser, "alice")
    session = await visitor.page.context.storage_state()  # the login's cookies, to a context with no cache
    await visitor.page.context.close()
    weights = {}
    for path in PAGES:
        context = await browser.new_context(storage_state=session)
        page = await context.new_page()
        requests = []
        page.on("requestfinished", lambda request, finished=requests: finished.append(request))
        await page.goto(PORTAL_URL + path, wait_until="load")
        # and what the page's scripts read after the load (their answers come within this)
        await page.wait_for_timeout(1500)
        weights[path or "dashboard"] = sum([await weight(request) for request in requests])
        await context.close()
    return weights


# Kept in the page: when the file was chosen, when its item first said "Sent;" and when it ended, on the
# page's own clock, so that the times are not those of Playwright's polling.
WATCH_UPLOAD = """() => {
  const times = window.uploadTimes = {};
  document.getElementById("files-picker").addEventListener("change", () => { times.chosen = performance.now(); });
  new MutationObserver(() => {
    const item = document.querySelector(".files-transfer");
    if (!item) return;
    if (times.sent === undefined && item.textContent.includes("Sent;")) times.sent = performance.now();
    if (times.ended === undefined && item.dataset.state !== "running") times.ended = performance.now();
  }).observe(document.getElementById("files-transfers"),
             { subtree: true, childList: true, characterData: true, attributes: true });
}"""


async def browser_upload(browser, folder: str, local: str) -> tuple[float, float]:
    """Seconds from choosing the file to its parts all in the object store, and to the file in place."""
    visitor = await log_in(browser, "alice")
    page = await visitor.open(f"files?system=cluster&path={quote(folder)}",
                              ready="#files-listing:not([aria-busy]) :is(table, p)")
    await page.evaluate(WATCH_UPLOAD)
    await page.set_input_files("#files-picker", local)
    item = f'.files-transfer[data-name="{os.path.basename(local)}"]'
    await page.wait_for_selector(f'{item}:not([data-state="running"])', timeout=600_000)
    state = await page.get_attribute(item, "data-state")
    if state != "done":
        raise SystemExit(f"the browser's upload ended {state}: {await page.inner_text(item)}")
    times = await page.evaluate("() => window.uploadTimes")
    await visitor.page.context.close()
    return (times["sent"] - times["chosen"]) / 1000, (times["ended"] - times["chosen"]) / 1000


def raw_put(local: str) -> float:
    settings = dict(line.split("=", 1) for line in (DEMO / "s3" / "credentials.env").read_text().split())
    s3 = boto3.client("s3", endpoint_url=settings["S3_ENDPOINT"], aws_access_key_id=settings["S3_ACCESS_KEY"],
                      aws_secret_access_key=settings["S3_SECRET_KEY"], region_name="us-east-1",
                      config=BotoConfig(s3={"addressing_style": "path"}, signature_version="s3v4"))
    key = f"benchmark/raw-{os.getpid()}"
    with open(local, "rb") as body:
        started = time.monotonic()
        s3.put_object(Bucket="firecrest-staging", Key=key, Body=body)
        took = time.monotonic() - started
    s3.delete_object(Bucket="firecrest-staging", Key=key)
    return took


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=10_000)
    parser.add_argument("--upload-mib", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--upload-rounds", type=int, default=3)
    args = parser.parse_args()
    folder = f"/home/alice/portal-bench-{os.getpid()}"
    as_alice("mkdir", "-p", f"{folder}/many")
    as_alice("bash", "-c", 'cd "$1" && seq -f "entry-%05g.dat" 1 "$2" | xargs touch', "x", f"{folder}/many",
             str(args.entries))
    try:
        async with chromium() as browser:
            times = await time_to_rows(browser, f"{folder}/many", args.rounds)
            print(f"files page with {args.entries} entries, navigation start to first rows: "
                  f"median {statistics.median(times):.0f} ms, best {min(times):.0f} ms, worst {max(times):.0f} ms "
                  f"(target < 1000 ms)")
            weights = await page_weights(browser)
            for page, weight in weights.items():
                verdict = "ok" if weight < WEIGHT_TARGET else "OVER"
                print(f"page weight without cache, {page:<10} {weight / 1024:7.1f} KiB ({verdict}, target < 300 KB)")
            with tempfile.TemporaryDirectory() as scratch:
                local = os.path.join(scratch, "portal-upload.dat")
                with open(local, "wb") as out:
                    out.writelines(os.urandom(MiB) for _ in range(args.upload_mib))
                raw, sent, in_place = [], [], []
                for round_ in range(args.upload_rounds):  # the raw PUT and the browser's take turns
                    raw.append(raw_put(local))
                    as_alice("mkdir", f"{folder}/upload-{round_}")
                    times = await browser_upload(browser, f"{folder}/upload-{round_}", local)
                    sent.append(times[0])
                    in_place.append(times[1])
            size, raw = args.upload_mib * MiB, statistics.median(raw)
            print(f"upload of {args.upload_mib} MiB, medians of {args.upload_rounds} rounds: "
                  f"raw S3 PUT (boto3) {raw:.2f} s = {size / MiB / raw:.0f} MiB/s")
            for what, samples in (("from the files page to the object store", sent),
                                  ("until the file is in place on the system", in_place)):
                took = statistics.median(samples)
                print(f"  {what}: {took:.2f} s = {size / MiB / took:.0f} MiB/s ({100 * raw / took:.0f}% of raw; "
                      f"target >= 70%; rounds {', '.join(f'{t:.2f}' for t in samples)} s)")
    finally:
        as_alice("rm", "-rf", "--", folder)


if __name__ == "__main__":
    asyncio.run(main())
