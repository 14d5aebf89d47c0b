"""Shared by the benchmark scripts: the demo system, timing and reporting."""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(1, str(ROOT / "tests"))  # the tests' helpers for clients: conftest.HubToken, portal_support

from firecrest_hub.config import System, Systems, load_config_file  # noqa: E402
from firecrest_hub.delegation import CertificateAuthority  # noqa: E402

DEMO = ROOT / ".demo"
HUB_API = "http://127.0.0.1:8000/hub/api"
API = "http://127.0.0.1:8000/services/firecrest/api/v1"


def user_token(user: str = "alice", note: str = "benchmarks") -> str:
    """A fresh hub token of `user` for the firecrest service, made with the demo's admin token."""
    import httpx

    admin = (DEMO / "admin.token").read_text().strip()
    response = httpx.post(f"{HUB_API}/users/{user}/tokens", headers={"Authorization": f"token {admin}"},
                          json={"scopes": ["access:services!service=firecrest"], "expires_in": 3600, "note": note})
    response.raise_for_status()
    return response.json()["token"]


def demo_config():
    return load_config_file(str(ROOT / "jupyterhub_config.py"))


def demo_system() -> System:
    return Systems(config=demo_config()).get("cluster")


def demo_authority() -> CertificateAuthority:
    return CertificateAuthority(config=demo_config())


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


async def timed(action, repeat: int) -> list[float]:
    """Milliseconds of each of `repeat` sequential runs of the coroutine function `action`."""
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        await action()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def report(name: str, samples: list[float], baseline: list[float] | None = None) -> None:
    p50, p99 = statistics.median(samples), percentile(samples, 99)
    ratio = f"  {p50 / statistics.median(baseline):5.2f}x baseline p50" if baseline else ""
    print(f"{name:48s} p50 {p50:8.2f} ms   p99 {p99:8.2f} ms   n={len(samples)}{ratio}")
