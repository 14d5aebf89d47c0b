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
with the demo's S3 credentials. A third upload, the floor, shows what the portal cannot beat on this
machine, where the browser, the object store and the login node share the CPUs: Chromium's own PUTs of
the same parts, as many at once, from a hub page with no portal code, while the system fetches them as
the service does (the same script, streams and niceness), run straight as alice, with no service.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import os
import statistics
import subprocess
import tempfile
import time
from urllib.parse import quote

import boto3
from botocore.config import Config as BotoConfig
from common import DEMO, demo_config
from conftest import HUB_URL
from portal_support import PORTAL_URL, chromium, log_in

from firecrest_hub.portal.pages import Portal
from firecrest_hub.staging.commands import CurlLimits, FetchPieces, Niced
from firecrest_hub.staging.external import Staging
from firecrest_hub.staging.objectstore import plan_parts

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


async def browser_upload(browser, folder: str, local: str) -> tuple[float, float, int]:
    """Seconds from choosing the file to its parts all in the object store, and to the file in place;
    how many parts it sent."""
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
    parts = await page.evaluate("() => performance.getEntriesByType('resource')"
                                ".filter((entry) => /[/]part-[0-9]+[?]/.test(entry.name)).length")
    await visitor.page.context.close()
    return (times["sent"] - times["chosen"]) / 1000, (times["ended"] - times["chosen"]) / 1000, parts


def s3_client():
    settings = dict(line.split("=", 1) for line in (DEMO / "s3" / "credentials.env").read_text().split())
    return boto3.client("s3", endpoint_url=settings["S3_ENDPOINT"], aws_access_key_id=settings["S3_ACCESS_KEY"],
                        aws_secret_access_key=settings["S3_SECRET_KEY"], region_name="us-east-1",
                        config=BotoConfig(s3={"addressing_style": "path"}, signature_version="s3v4"))


@functools.cache
def setting(configurable, name: str):
    """A setting as the demo's service runs with it: configured in jupyterhub_config.py, or the default."""
    return demo_config()[configurable.__name__].get(name, configurable.class_traits()[name].default_value)


# Sends the parts of the page's chosen file, `width` at once, each by its presigned URL.
PUT_PARTS = """async ([urls, partSize, width]) => {
  const file = document.getElementById("floor-file").files[0];
  let next = 0;
  const put = (index) => new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("PUT", urls[index]);
    xhr.onload = () => (xhr.status < 300 ? resolve() : reject(new Error(`part ${index + 1}: ${xhr.status}`)));
    xhr.onerror = () => reject(new Error(`part ${index + 1}: no answer`));
    xhr.send(file.slice(index * partSize, (index + 1) * partSize));
  });
  const lane = async () => { while (next < urls.length) await put(next++); };
  await Promise.all(Array.from({ length: width }, lane));
}"""


async def floor_upload(page, local: str, part_count: int, target: str) -> tuple[float, float]:
    """The floor (see above): seconds until the store has every part, and until the system has them all."""
    s3, size = s3_client(), os.path.getsize(local)
    plan = plan_parts(size, -(-size // part_count))
    keys = [f"benchmark/floor-{os.getpid()}/part-{part.number:05d}" for part in plan]

    def presigned(method: str, key: str) -> str:
        return s3.generate_presigned_url(method, Params={"Bucket": "firecrest-staging", "Key": key}, ExpiresIn=600)

    put_urls = [presigned("put_object", key) for key in keys]
    pieces = [(part.offset, part.size, presigned("get_object", key)) for part, key in zip(plan, keys)]
    streams = min(setting(Staging, "parallel_streams"), len(plan))
    as_alice("truncate", "--size=0", "--", target)
    started = time.monotonic()
    fetchers = []
    for first in range(streams):
        command = Niced(FetchPieces(target, pieces[first::streams], CurlLimits(), ranged=False, wait=600),
                        setting(Staging, "niceness"))
        fetcher = subprocess.Popen(["runuser", "-u", "alice", "--", *command.argv()], stdin=subprocess.PIPE, text=True)
        fetcher.stdin.write(command.stdin())
        fetcher.stdin.close()
        fetchers.append(fetcher)
    try:
        await page.evaluate(PUT_PARTS, [put_urls, plan[0].size, setting(Portal, "upload_parallel_parts")])
        sent = time.monotonic() - started
        statuses = [await asyncio.to_thread(fetcher.wait, 600) for fetcher in fetchers]
        if any(statuses):
            raise SystemExit("the floor's fetch on the system failed")
        return sent, time.monotonic() - started
    finally:
        for fetcher in fetchers:
            fetcher.kill()
        s3.delete_objects(Bucket="firecrest-staging", Delete={"Objects": [{"Key": key} for key in keys]})


def raw_put(local: str) -> float:
    s3 = s3_client()
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
                floor_page = (await log_in(browser, "alice")).page
                await floor_page.goto(f"{HUB_URL}/hub/home")
                await floor_page.evaluate("() => document.body.append(Object.assign(document.createElement('input'),"
                                          " { type: 'file', id: 'floor-file' }))")
                await floor_page.set_input_files("#floor-file", local)
                samples = {what: [] for what in ("raw", "sent", "in place", "floor sent", "floor in place")}
                for round_ in range(args.upload_rounds):  # the three take turns
                    samples["raw"].append(raw_put(local))
                    as_alice("mkdir", f"{folder}/upload-{round_}")
                    sent, in_place, parts = await browser_upload(browser, f"{folder}/upload-{round_}", local)
                    samples["sent"].append(sent)
                    samples["in place"].append(in_place)
                    sent, in_place = await floor_upload(floor_page, local, parts, f"{folder}/floor-{round_}")
                    samples["floor sent"].append(sent)
                    samples["floor in place"].append(in_place)
            size, raw = args.upload_mib * MiB, statistics.median(samples["raw"])
            print(f"upload of {args.upload_mib} MiB, medians of {args.upload_rounds} rounds: "
                  f"raw S3 PUT (boto3) {raw:.2f} s = {size / MiB / raw:.0f} MiB/s")
            for what, key in (("from the files page to the object store", "sent"),
                              ("until the file is in place on the system", "in place"),
                              ("floor, to the object store", "floor sent"),
                              ("floor, until the system has every part", "floor in place")):
                took = statistics.median(samples[key])
                target = "" if key.startswith("floor") else "target >= 70%; "
                print(f"  {what}: {took:.2f} s = {size / MiB / took:.0f} MiB/s ({100 * raw / took:.0f}% of raw; "
                      f"{target}rounds {', '.join(f'{t:.2f}' for t in samples[key])} s)")
    finally:
        as_alice("rm", "-rf", "--", folder)


if __name__ == "__main__":
    asyncio.run(main())
