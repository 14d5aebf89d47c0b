"""Every shell script of the project passes shellcheck: the ones that run on the systems as the user
(package files under */scripts/, loaded with importlib.resources) and the dev cluster's own."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = sorted(str(path.relative_to(ROOT)) for path in
                 [*ROOT.glob("firecrest_hub/*/scripts/*.sh"), *ROOT.glob("devcluster/*.sh"), ROOT / ".ci" / "run"])


def test_the_system_scripts_are_found():
    assert "firecrest_hub/compute/scripts/sbatch-with-env.sh" in SCRIPTS
    assert "firecrest_hub/filesystem/scripts/extract.sh" in SCRIPTS


@pytest.mark.parametrize("script", SCRIPTS)
def test_scripts_pass_shellcheck(script):
    assert shutil.which("shellcheck"), "shellcheck is missing: `make unit` and `make test` install it"
    result = subprocess.run(["shellcheck", "--external-sources", "--", script], cwd=ROOT, capture_output=True,
                            text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
