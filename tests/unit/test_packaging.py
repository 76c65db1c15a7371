"""An installed wheel (not only this checkout) finds its XSD and Avro files."""

from __future__ import annotations

import json
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

PROBE = """
import json, sys
from pathlib import Path
from gateway.resources import avro_dir, schemas_dir, data_dir
root = schemas_dir()
schema = json.loads((avro_dir() / "kpgw.events.CertificateEvent.avsc").read_text())
xsds = sorted(str(p.relative_to(root)) for p in root.rglob("*.xsd"))
print(json.dumps({"root": str(root), "schema": schema["name"], "xsds": xsds,
                  "registry": (data_dir() / "participants.example.toml").exists()}))
"""


@pytest.mark.slow
def test_wheel_installs_into_a_fresh_venv_and_loads_its_schemas(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "build",
            "--wheel",
            "--no-isolation",
            "--outdir",
            str(dist),
            str(REPO_ROOT),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    wheel = next(dist.glob("kpgw-*.whl"))
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = env_dir / "bin" / "python"
    # --no-deps: the probe needs only the package's own files, and the test stays offline.
    subprocess.run(
        [str(python), "-m", "pip", "install", "--no-deps", "-q", str(wheel)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    result = subprocess.run(
        [str(python), "-c", PROBE],
        check=True,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    found = json.loads(result.stdout)
    assert Path(found["root"]).is_relative_to(env_dir), "schemas must come from the wheel"
    assert found["schema"] == "CertificateEvent"
    assert found["registry"]
    assert any(x.startswith("xsd/") for x in found["xsds"]), found["xsds"]
