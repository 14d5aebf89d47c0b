"""The v2 API's own OpenAPI 3 spec (../openapi-v2.yaml), public like v1's: as JSON and as YAML, with
`servers` naming where this service really is, and the page made from it (v1's page, ../docs.py)."""

from __future__ import annotations

import functools
from pathlib import Path

import yaml
from jupyterhub.utils import url_path_join

from ..docs import render_page, send_page
from .base import V2PublicHandler

SPEC_FILE = Path(__file__).parent.parent / "openapi-v2.yaml"
# Read once at import, so that no request reads a file.
SPEC = yaml.safe_load(SPEC_FILE.read_text())


@functools.cache
def served_spec(api_url: str) -> dict:
    return {**SPEC, "servers": [{"url": api_url, "description": "This service"}]}


@functools.cache
def docs_page(api_url: str) -> str:
    return render_page(SPEC, api_url, "v2")


class DocsPublicHandler(V2PublicHandler):
    """What describes the API, the same for everyone: cached a while."""

    async def prepare(self):
        self.set_header("Cache-Control", "public, max-age=300")

    @property
    def api_url(self) -> str:
        return url_path_join(self.service.base_url, "api/v2")


class SpecHandler(DocsPublicHandler):
    def get(self, extension: str):
        spec = served_spec(self.api_url)
        if extension == "json":
            self.write_json(spec)
            return
        self.set_header("Content-Type", "application/yaml; charset=utf-8")
        self.finish(yaml.safe_dump(spec, sort_keys=False, allow_unicode=True, width=110))


class DocsHandler(DocsPublicHandler):
    def get(self):
        send_page(self, docs_page(self.api_url))


routes = [
    (r"/openapi\.(json|yaml)", SpecHandler),
    (r"/docs", DocsHandler),
]
