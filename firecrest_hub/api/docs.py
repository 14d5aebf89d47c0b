"""The API's own description: the OpenAPI 3 spec (openapi.yaml beside this module) and a page made from it
(render_page and send_page make v2's page too, from its own spec).

Both are public, no token needed: they describe what the API offers and hold nothing of any user, and
people and tools (code generators, the portal) read them before they have a token. Every other endpoint
needs one. The page is self-contained (its stylesheet inline, no scripts, nothing fetched from outside),
and its Content-Security-Policy says so.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

import jinja2
import yaml
from jupyterhub.utils import url_path_join
from markupsafe import Markup, escape
from tornado.web import RequestHandler

from ..assets import asset_dir
from .base import APIHandler

SPEC_FILE = Path(__file__).with_name("openapi.yaml")
TEMPLATE = "api_docs.html"
STYLESHEET = "docs.css"
METHODS = ("get", "put", "post", "delete", "patch", "head", "options")
# How deep the page unfolds nested schemas; deeper parts are named by type only.
_SCHEMA_DEPTH = 4
_CODE = re.compile(r"`([^`]+)`")


# Read once at import, so that no request reads a file.
SPEC = yaml.safe_load(SPEC_FILE.read_text())
_TEMPLATES = jinja2.Environment(
    loader=jinja2.FileSystemLoader(asset_dir("templates", TEMPLATE)),
    autoescape=True, undefined=jinja2.StrictUndefined, auto_reload=False,
)
_PAGE = _TEMPLATES.get_template(TEMPLATE)
_CSS = (asset_dir("static", STYLESHEET) / STYLESHEET).read_text()


def inline(text: str | None) -> Markup:
    """A short description as HTML: escaped, with `code` in backticks marked up."""
    return Markup(_CODE.sub(r"<code>\1</code>", str(escape(text or ""))))


def prose(text: str | None) -> Markup:
    """A description as HTML paragraphs, split at blank lines."""
    return Markup("".join(f"<p>{inline(part.strip())}</p>" for part in (text or "").split("\n\n") if part.strip()))


class _Resolver:
    """Follows local `$ref`s (`#/components/...`) of one spec."""

    def __init__(self, spec: dict):
        self.spec = spec

    def __call__(self, node):
        while isinstance(node, dict) and "$ref" in node:
            target = self.spec
            for part in node["$ref"].removeprefix("#/").split("/"):
                target = target[part]
            node = target
        return node


class PageModel:
    """The spec regrouped for reading: sections by tag, each operation with its parameters, body and
    responses, and every schema unfolded into its fields."""

    def __init__(self, spec: dict):
        self.spec = spec
        self.resolve = _Resolver(spec)

    def sections(self) -> list[dict]:
        return [
            {"name": tag["name"], "description": tag.get("description", ""),
             "operations": self._operations(tag["name"])}
            for tag in self.spec.get("tags", [])
        ]

    def _operations(self, tag: str) -> list[dict]:
        found = []
        for path, item in self.spec["paths"].items():
            for method in METHODS:
                operation = item.get(method)
                if operation and tag in operation.get("tags", []):
                    found.append(self._operation(path, method, item, operation))
        return found

    def _operation(self, path: str, method: str, item: dict, operation: dict) -> dict:
        parameters = [self.resolve(p) for p in item.get("parameters", []) + operation.get("parameters", [])]
        body = self.resolve(operation.get("requestBody", {}))
        return {
            "id": operation.get("operationId") or f"{method}-{path}",
            "method": method.upper(),
            "path": path,
            "summary": operation.get("summary", ""),
            "description": operation.get("description", ""),
            "public": operation.get("security") == [],
            "parameters": [self._parameter(p) for p in parameters],
            "body": self._bodies(body.get("content", {})),
            "responses": [self._response(code, self.resolve(response))
                          for code, response in operation.get("responses", {}).items()],
        }

    def _parameter(self, parameter: dict) -> dict:
        return {
            "name": parameter["name"],
            "where": parameter["in"],
            "required": parameter.get("required", False),
            "type": self.type_label(parameter.get("schema", {})),
            "description": parameter.get("description", ""),
        }

    def _response(self, code: str, response: dict) -> dict:
        return {
            "code": code,
            "description": response.get("description", ""),
            "headers": [{"name": name, "description": self.resolve(header).get("description", "")}
                        for name, header in response.get("headers", {}).items()],
            "bodies": self._bodies(response.get("content", {})),
        }

    def _bodies(self, content: dict) -> list[dict]:
        """One entry per distinct schema, naming every content type that carries it."""
        bodies: dict[str, dict] = {}
        for content_type, media in content.items():
            schema = media.get("schema", {})
            body = bodies.setdefault(repr(schema), {"content_types": [], "schema": self.schema(schema)})
            body["content_types"].append(content_type)
        return list(bodies.values())

    def type_label(self, schema: dict) -> str:
        """A schema's type in a few words: "array of object", "string (a | b), default a"."""
        schema = self.resolve(schema)
        if "oneOf" in schema:
            return " or ".join(self.type_label(option) for option in schema["oneOf"])
        if "allOf" in schema:
            return "object"
        label = "binary" if schema.get("format") == "binary" else schema.get("type", "any")
        if label == "array":
            label = f"array of {self.type_label(schema.get('items', {}))}"
        if "enum" in schema:
            label += " (" + " | ".join(str(value) for value in schema["enum"]) + ")"
        if "default" in schema:
            label += f", default {str(schema['default']).lower()}"
        return label

    def schema(self, schema: dict, depth: int = 0) -> dict:
        """A schema as {type, description, fields}; each field {name, required, schema}."""
        schema = self.resolve(schema)
        fields = []
        if depth < _SCHEMA_DEPTH:
            if schema.get("type") == "array" and "items" in schema:
                return {**self.schema(schema["items"], depth), "type": self.type_label(schema),
                        "description": schema.get("description", "")}
            required = set(schema.get("required", []))
            fields = [{"name": name, "required": name in required, "schema": self.schema(field, depth + 1)}
                      for name, field in schema.get("properties", {}).items()]
            if isinstance(schema.get("additionalProperties"), dict):
                fields.append({"name": "<key>", "required": False,
                               "schema": self.schema(schema["additionalProperties"], depth + 1)})
            # The fields of every part of an allOf; of every alternative of a oneOf (its type says "or").
            for part in schema.get("allOf", []) + schema.get("oneOf", []):
                fields.extend(self.schema(part, depth)["fields"])
        return {"type": self.type_label(schema), "description": schema.get("description", ""),
                "example": schema.get("example"), "fields": fields}


class _SpecDumper(yaml.SafeDumper):
    """Writes multi-line descriptions as literal blocks, as people write them."""


_SpecDumper.add_representer(str, lambda dumper, text: dumper.represent_scalar(
    "tag:yaml.org,2002:str", text, style="|" if "\n" in text else None))


@functools.cache
def spec_document(api_url: str) -> str:
    """The spec as served: `servers` names where this service really is."""
    spec = {**SPEC, "servers": [{"url": api_url, "description": "This service"}]}
    return yaml.dump(spec, Dumper=_SpecDumper, sort_keys=False, allow_unicode=True, width=110)


def render_page(spec: dict, api_url: str, compatible_with: str) -> str:
    """The page of `spec`, an API's below `api_url`, which serves the spec as `openapi.yaml` (v1's and v2's);
    `compatible_with` names the FirecREST API it follows ("v1", "v2")."""
    return _PAGE.render(info=spec["info"], api_url=api_url, sections=PageModel(spec).sections(),
                        compatible_with=compatible_with,
                        spec_url=url_path_join(api_url, "openapi.yaml"), stylesheet=Markup(_CSS),
                        prose=prose, inline=inline)


def send_page(handler: RequestHandler, page: str) -> None:
    """Answer with a page of render_page()."""
    # Nothing to load from anywhere: inline styles only, no scripts, no forms, no framing.
    handler.set_header("Content-Security-Policy",
                       "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; "
                       "frame-ancestors 'none'")
    handler.set_header("Content-Type", "text/html; charset=utf-8")
    handler.finish(page)


@functools.cache
def docs_page(api_url: str) -> str:
    return render_page(SPEC, api_url, "v1")


class PublicHandler(APIHandler):
    """No token asked: these pages hold nothing of any user. Errors still use the API's JSON writer."""

    async def prepare(self):
        self.set_header("Cache-Control", "public, max-age=300")

    @property
    def api_url(self) -> str:
        return url_path_join(self.service.base_url, "api/v1")


class SpecHandler(PublicHandler):
    def get(self):
        self.set_header("Content-Type", "application/yaml; charset=utf-8")
        self.finish(spec_document(self.api_url))


class DocsHandler(PublicHandler):
    def get(self):
        send_page(self, docs_page(self.api_url))


routes = [
    (r"/openapi\.yaml", SpecHandler),
    (r"/docs", DocsHandler),
]
