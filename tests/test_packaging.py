"""The wheel carries everything the service and the spawner read at run time, not only the .py files."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile

from conftest import ROOT


def test_the_wheel_holds_templates_static_files_and_the_batch_script(tmp_path):
    # Built from a copy: a build writes build/ and *.egg-info/ into the tree it builds.
    source = tmp_path / "source"
    source.mkdir()
    for part in ("pyproject.toml", "README.md", "firecrest_hub", "spawner", "templates", "static"):
        if (ROOT / part).is_dir():
            shutil.copytree(ROOT / part, source / part, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(ROOT / part, source / part)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(tmp_path),
                    str(source)], check=True)
    (wheel,) = tmp_path.glob("firecrest_hub-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    data = [name.split("/share/firecrest-hub/", 1)[1] for name in names if "/share/firecrest-hub/" in name]
    expected = [str(path.relative_to(ROOT)) for kind in ("templates", "static")
                for path in (ROOT / kind).rglob("*") if path.is_file()]
    assert sorted(data) == sorted(expected)
    assert "spawner/batch_script.sh" in names
    assert "firecrest_hub/api/openapi.yaml" in names
    # Scripts that run on the systems travel as package files.
    assert {"firecrest_hub/compute/scripts/sbatch-with-env.sh", "firecrest_hub/filesystem/scripts/extract.sh"} <= set(names)
    assert {f"firecrest_hub/staging/scripts/{name}.sh" for name in ("fetch-pieces", "push-parts", "transfer-job")} <= set(names)
