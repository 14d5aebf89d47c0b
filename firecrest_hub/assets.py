"""Where the project's templates/ and static/ are found: in the repository (a source checkout or an
editable install), else where a wheel installs them, under <prefix>/share/firecrest-hub/."""

from __future__ import annotations

import sys
from pathlib import Path


def asset_dir(kind: str, needed: str) -> Path:
    """The `kind` ("templates" or "static") directory that holds the file `needed`."""
    for base in (Path(__file__).resolve().parents[1], Path(sys.prefix) / "share" / "firecrest-hub"):
        if (base / kind / needed).exists():
            return base / kind
    raise FileNotFoundError(f"{kind}/{needed} is not installed")
