"""The service's own OpenAPI spec (firecrest_hub/api/openapi.yaml): valid, in step with the routes, served.

The route check builds the service's tornado application from `firecrest_hub.api.routes()` and compares
it with the spec both ways, path by path and method by method: a handler added without a spec entry (or
an entry left behind by a removed handler) fails here. That is on purpose: describe the route in
openapi.yaml, in v1's terms where v1 has it.
"""

from __future__ import annotations

import re
import tomllib

import pytest
import requests
import yaml
from openapi_spec_validator import validate
from tornado.httpclient import AsyncHTTPClient
from tornado.web import Application, RequestHandler

from conftest import API_URL, ROOT
from firecrest_hub import api
from firecrest_hub.api.docs import METHODS, SPEC, SPEC_FILE, PublicHandler, PageModel, docs_page, spec_document
from firecrest_hub.api.status import FIRECREST_VERSION
from firecrest_hub.api.v2 import base as v2_base
from firecrest_hub.api.v2 import docs as v2_docs
from firecrest_hub.api.v2 import routes as v2_routes

PREFIX = "/services/firecrest/api/v1"
V2_PREFIX = "/services/firecrest/api/v2"
_PARAMETER = re.compile(r"\{[^{}]+\}")


def route_template(pattern: str, prefix: str = PREFIX) -> str:
    """A route's regex as a spec-like template: each group becomes `{}`; an optional trailing slash goes.

    Only the regex features routes use are understood; anything else fails loudly, so that a new kind
    of route gets a look instead of a silent pass.
    """
    path = pattern.removeprefix(prefix).removesuffix("$").removesuffix("/?")
    template, depth = [], 0
    index = 0
    while index < len(path):
        char = path[index]
        if char == "\\":
            if depth == 0:
                template.append(path[index + 1])
            index += 2
            continue
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                template.append("{}")
        elif depth == 0:
            template.append(char)
        index += 1
    result = "".join(template)
    assert not set(result) & set("()[]?*+|^$"), f"route {pattern!r} uses a regex the test does not read"
    return result


def spec_template(path: str) -> str:
    return _PARAMETER.sub("{}", path)


def implemented_methods(handler: type[RequestHandler]) -> set[str]:
    return {method for method in METHODS if getattr(handler, method) is not getattr(RequestHandler, method)}


def application_routes(routes_of=api.routes, prefix: str = PREFIX) -> dict[str, type[RequestHandler]]:
    app = Application(routes_of(prefix))
    routes = {}
    for rule in app.wildcard_router.rules:
        template = route_template(rule.matcher.regex.pattern, prefix)
        assert template not in routes, f"two routes for {template}"
        routes[template] = rule.target
    return routes


def spec_operations(spec: dict = SPEC) -> dict[str, set[str]]:
    return {spec_template(path).removesuffix("/"): {method for method in item if method in METHODS}
            for path, item in spec["paths"].items()}


def test_the_spec_is_valid_openapi_3():
    validate(yaml.safe_load(SPEC_FILE.read_text()))


def test_the_served_spec_is_valid_and_names_the_service_prefix():
    served = yaml.safe_load(spec_document("/services/other/api/v1"))
    validate(served)
    assert served["servers"][0]["url"] == "/services/other/api/v1"
    assert served["paths"] == SPEC["paths"]


def test_every_route_is_in_the_spec():
    missing = sorted(set(application_routes()) - set(spec_operations()))
    assert not missing, f"routes without a spec entry in openapi.yaml: {missing}"


def test_every_spec_path_has_a_route():
    stale = sorted(set(spec_operations()) - set(application_routes()))
    assert not stale, f"openapi.yaml describes paths the service does not have: {stale}"


def test_methods_match_handler_by_handler():
    operations = spec_operations()
    mismatches = {}
    for template, handler in application_routes().items():
        implemented = implemented_methods(handler)
        if implemented != operations.get(template, set()):
            mismatches[template] = {"handler": sorted(implemented), "spec": sorted(operations.get(template, ()))}
    assert not mismatches, f"methods differ between handlers and openapi.yaml: {mismatches}"


def test_exactly_the_public_handlers_are_public_in_the_spec():
    routes = application_routes()
    for path, item in SPEC["paths"].items():
        handler = routes[spec_template(path)]
        for method in set(item) & set(METHODS):
            public = item[method].get("security") == []
            assert public == issubclass(handler, PublicHandler), f"{method.upper()} {path}"


@pytest.mark.parametrize("spec", [SPEC, v2_docs.SPEC], ids=["v1", "v2"])
def test_operations_are_complete(spec):
    resolve = PageModel(spec).resolve
    declared_tags = {tag["name"] for tag in spec["tags"]}
    ids = []
    for path, item in spec["paths"].items():
        for method in set(item) & set(METHODS):
            operation = item[method]
            ids.append(operation["operationId"])
            assert operation["summary"] and operation["responses"], f"{method} {path}"
            assert set(operation["tags"]) <= declared_tags, f"{method} {path}"
            if operation.get("security") != []:
                assert {"401", "403"} <= set(operation["responses"]), f"{method} {path} lacks its auth errors"
            parameters = [resolve(p) for p in item.get("parameters", []) + operation.get("parameters", [])]
            declared = {"{%s}" % p["name"] for p in parameters if p["in"] == "path"}
            assert set(_PARAMETER.findall(path)) == declared, f"{method} {path}: path parameters"
    assert len(ids) == len(set(ids)), "operationIds must be unique"


def test_the_spec_names_the_version_pyfirecrest_reads():
    assert SPEC["info"]["version"] == FIRECREST_VERSION.removeprefix("v")


def test_the_spec_ships_with_the_package():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "api/openapi.yaml" in pyproject["tool"]["setuptools"]["package-data"]["firecrest_hub"]


# v1's page and v2's: the spec and its page, as served below the API's prefix.
DOCS_PAGES = {"v1": (SPEC, lambda: docs_page(PREFIX)), "v2": (v2_docs.SPEC, lambda: v2_docs.docs_page(V2_PREFIX))}


@pytest.mark.parametrize("version", DOCS_PAGES)
def test_the_docs_page_shows_every_operation_once_and_loads_nothing_from_outside(version):
    spec, render = DOCS_PAGES[version]
    page = render()
    for path, item in spec["paths"].items():
        for method in set(item) & set(METHODS):
            assert page.count(f'id="{item[method]["operationId"]}"') == 1, f"{version}: {method.upper()} {path}"
    assert f"(FirecREST {version} compatible)" in page
    assert "<script" not in page
    assert not re.search(r"""(?:src|href)=["']?(?:https?:)?//""", page), "the page must not load external assets"


# -- the v2 API: its own spec, in step with its routes the same way ----------------------------------


def v2_application_routes() -> dict[str, type[RequestHandler]]:
    return application_routes(v2_routes, V2_PREFIX)


def test_the_v2_spec_is_valid_openapi_3():
    validate(yaml.safe_load(v2_docs.SPEC_FILE.read_text()))


def test_every_v2_route_is_in_the_v2_spec_and_back():
    routes, operations = set(v2_application_routes()), set(spec_operations(v2_docs.SPEC))
    assert not routes - operations, f"v2 routes without an entry in openapi-v2.yaml: {sorted(routes - operations)}"
    assert not operations - routes, f"openapi-v2.yaml describes paths v2 does not have: {sorted(operations - routes)}"


def test_v2_methods_match_handler_by_handler():
    operations = spec_operations(v2_docs.SPEC)
    mismatches = {template: {"handler": sorted(implemented_methods(handler)), "spec": sorted(operations[template])}
                  for template, handler in v2_application_routes().items()
                  if implemented_methods(handler) != operations[template]}
    assert not mismatches, f"methods differ between v2 handlers and openapi-v2.yaml: {mismatches}"


def test_exactly_the_public_v2_handlers_are_public_in_the_spec():
    routes = v2_application_routes()
    for path, item in v2_docs.SPEC["paths"].items():
        handler = routes[spec_template(path).removesuffix("/")]
        for method in set(item) & set(METHODS):
            public = item[method].get("security") == []
            assert public == issubclass(handler, v2_base.V2PublicHandler), f"{method.upper()} {path}"


def test_the_v2_spec_names_the_version_pyfirecrest_reads_and_ships():
    assert v2_docs.SPEC["info"]["version"] == v2_base.APP_VERSION
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "api/openapi-v2.yaml" in pyproject["tool"]["setuptools"]["package-data"]["firecrest_hub"]


async def test_the_v2_docs_page_is_public_self_contained_and_links_the_v2_spec(api):
    url = api.url.replace("/api/v1", "/api/v2")
    response = await AsyncHTTPClient().fetch(f"{url}/docs", raise_error=False)
    assert response.code == 200
    assert response.headers["Content-Type"].startswith("text/html")
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["F7T-AppVersion"] == v2_base.APP_VERSION
    assert f'href="{V2_PREFIX}/openapi.yaml"' in response.body.decode()
    spec = await AsyncHTTPClient().fetch(f"{url}/openapi.yaml", raise_error=False)
    assert spec.code == 200 and yaml.safe_load(spec.body)["paths"] == v2_docs.SPEC["paths"]


@pytest.mark.cluster
@pytest.mark.parametrize("extension", ["json", "yaml"])
def test_the_v2_spec_is_served_without_a_token(extension):
    response = requests.get(f"{API_URL.removesuffix('/v1')}/v2/openapi.{extension}", timeout=10)
    assert response.status_code == 200
    served = yaml.safe_load(response.text)  # JSON is YAML too
    validate(served)
    assert served["servers"] == [{"url": V2_PREFIX, "description": "This service"}]


# -- served through the hub's proxy ----------------------------------------------------------------


@pytest.mark.cluster
def test_the_spec_is_served_without_a_token():
    response = requests.get(f"{API_URL}/openapi.yaml", timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/yaml")
    served = yaml.safe_load(response.text)
    validate(served)
    assert served["servers"] == [{"url": PREFIX, "description": "This service"}]


@pytest.mark.cluster
def test_the_docs_page_is_served_without_a_token_and_self_contained():
    response = requests.get(f"{API_URL}/docs", timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/html")
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]
    assert "GET" in response.text and "/status/systems" in response.text
    assert f'href="{PREFIX}/openapi.yaml"' in response.text


@pytest.mark.cluster
def test_the_public_pages_refuse_other_methods_as_json():
    response = requests.post(f"{API_URL}/docs", timeout=10)
    assert response.status_code == 405
    assert response.json()["description"]
