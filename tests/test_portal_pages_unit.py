"""The portal's pages without the cluster: who may see them, the headers that keep them safe, and an HTML
error page (never a traceback). The real routes, with the stand-in hub of tests/handler_support.py."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone

import pytest
from tornado.httpclient import AsyncHTTPClient

PAGES = ["", "files", "jobs", "jobs/42", "compose", "transfers", "status"]


async def page(api, path: str, token: str | None = "alice-token"):
    """GET a portal page (or asset) as a browser would, with a hub credential (here a token) or none."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return await AsyncHTTPClient().fetch(api.url.removesuffix("api/v1") + path, headers=headers, raise_error=False,
                                         follow_redirects=False)


@pytest.mark.parametrize("path", PAGES)
async def test_every_page_is_served_with_its_safety_headers(api, path):
    response = await page(api, path)
    assert response.code == 200, response.body[:300]
    assert response.headers["Content-Type"].startswith("text/html")
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy and "unsafe-inline" not in policy
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    html = response.body.decode()
    assert "<script>" not in html and " style=" not in html and " onclick" not in html  # nothing inline
    assert ">alice<" in html


async def test_the_settings_are_data_not_script(api):
    html = (await page(api, "compose")).body.decode()
    settings = re.search(r'data-settings="([^"]*)"', html).group(1)
    decoded = json.loads(settings.replace("&#34;", '"').replace("&quot;", '"').replace("&amp;", "&")
                         .replace("&lt;", "<").replace("&gt;", ">").replace("&#39;", "'"))
    assert decoded["user"] == "alice" and decoded["systems"] == ["cluster"] and decoded["xsrf"]


async def test_without_a_session_the_browser_goes_to_the_hubs_login(api):
    response = await page(api, "files", token=None)
    assert response.code == 302
    assert "/hub/api/oauth2/authorize" in response.headers["Location"]


async def test_a_user_the_policy_refuses_reads_a_clear_json_refusal(api):
    """The page itself is served; what it reads of a system is refused, with the reason the page shows."""
    response = await page(api, "portal/api/jobs?system=cluster", token="root-token")
    assert response.code == 403 and "application/json" in response.headers["Content-Type"]
    assert "root" in json.loads(response.body)["description"]


async def test_the_portal_reads_the_queue_without_making_tasks(api):
    api.replay.answer(["squeue", "--all", "*"], stdout="")
    response = await page(api, "portal/api/jobs?system=cluster")
    assert response.code == 200, response.body
    assert json.loads(response.body) == {"system": "cluster", "jobs": []}
    tasks = json.loads((await page(api, "portal/api/tasks")).body)["tasks"]
    assert tasks == []


async def test_unknown_pages_and_job_ids_are_a_404_page(api):
    for path in ("nosuchpage", "jobs/<script>"):
        response = await page(api, path)
        assert response.code == 404 and b"There is no" in response.body, path
        assert b"<script>" not in response.body


async def test_the_task_list_is_the_users_newest_of_the_kinds_asked(api):
    store = api.service.tasks.store
    deadline = datetime.now(timezone.utc) + timedelta(hours=1)
    for kind in ("submit", "xfer-internal", "jobs", "xfer-external-upload", "submit"):
        await store.create(user="alice", service="compute", system="cluster", kind=kind, params={},
                           deadline=deadline, runner="r", lease_until=deadline)
    await store.create(user="bob", service="compute", system="cluster", kind="submit", params={},
                       deadline=deadline, runner="r", lease_until=deadline)

    async def kinds(query: str) -> list[str]:
        response = await page(api, f"portal/api/tasks{query}")
        assert response.code == 200, response.body
        return [task["kind"] for task in json.loads(response.body)["tasks"]]

    assert sorted(await kinds("")) == ["submit", "submit", "xfer-external-upload", "xfer-internal"]  # no page reads
    assert len(await kinds("?limit=2")) == 2
    assert sorted(await kinds("?kinds=xfer-internal,xfer-external-upload")) == ["xfer-external-upload", "xfer-internal"]
    assert (await page(api, "portal/api/tasks?limit=0")).code == 400


async def test_the_assets_are_served_with_nosniff(api):
    for asset in ("portal-static/portal.css", "portal-static/js/api.js"):
        response = await page(api, asset, token=None)
        assert response.code == 200 and response.headers["X-Content-Type-Options"] == "nosniff", asset
    assert (await page(api, "portal-static/../../pyproject.toml", token=None)).code in (403, 404)
