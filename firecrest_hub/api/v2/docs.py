"""The v2 API's own OpenAPI 3 spec (../openapi-v2.yaml), public like v1's: as JSON and as YAML, with
`servers` naming where this service really is."""

from __future__ import annotations

import functools
from pathlib import Path

import yaml
from jupyterhub.utils import url_path_join

from .base import V2PublicHandler

SPEC_FILE = Path(__file__).parent.parent / "openapi-v2.yaml"
# Read once at import, so that no request reads a file.
SPEC = yaml.safe_load(SPEC_FILE.read_text())


@functools.cache
def served_spec(api_url: str) -> dict:
    return {**SPEC, "servers": [{"url": api_url, "description": "This service"}]}


class SpecHandler(V2PublicHandler):
    def get(self, extension: str):
        self.set_header("Cache-Control", "public, max-age=300")
        spec = served_spec(url_path_join(self.service.base_url, "api/v2"))
        if extension == "json":
            self.write_json(spec)
            return
        self.set_header("Content-Type", "application/yaml; charset=utf-8")
        self.finish(yaml.safe_dump(spec, sort_keys=False, allow_unicode=True, width=110))


routes = [
    (r"/openapi\.(json|yaml)", SpecHandler),
]
