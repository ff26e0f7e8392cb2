"""``spacy package`` builds a self-contained wheel that installs and loads with spacy.load(name)."""

from __future__ import annotations

import json
import site
import subprocess
import sys
import venv

import pytest
import spacy

pytestmark = pytest.mark.slow


def run(*args, **kwargs):
    return subprocess.run([str(a) for a in args], check=True, capture_output=True, text=True, **kwargs)


def test_spacy_package_wheel_installs_and_loads(tiny_uni, tmp_path):
    nlp = spacy.blank("en")
    nlp.add_pipe("gliclass", config={"model": str(tiny_uni), "labels": ["sports", "business"]})
    expected = nlp("The striker scored twice.").cats
    nlp.meta["name"] = "gliclass_tiny"
    nlp.to_disk(tmp_path / "pipeline")
    (tmp_path / "dist").mkdir()
    run(
        sys.executable,
        "-m",
        "spacy",
        "package",
        tmp_path / "pipeline",
        tmp_path / "dist",
        "--build",
        "wheel",
        "--version",
        "0.0.1",
        "--force",
    )
    wheels = list((tmp_path / "dist").rglob("*.whl"))
    assert len(wheels) == 1
    meta = json.loads(next((tmp_path / "dist").rglob("meta.json")).read_text())
    assert any(req.startswith("spacy-gliclass") for req in meta["requirements"])

    # A new virtualenv that sees this environment's packages (torch, spaCy, the plugin) through a
    # .pth file, so the test does not download gigabytes; the wheel itself is installed from disk.
    env = tmp_path / "venv"
    venv.create(env, with_pip=True)
    target_site = next((env / "lib").glob("python3*/site-packages"))
    (target_site / "outer.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    python = env / "bin" / "python"
    run(python, "-m", "pip", "install", "--no-deps", "--no-index", wheels[0])
    code = (
        "import json, spacy; nlp = spacy.load('en_gliclass_tiny'); "
        "print(json.dumps(nlp('The striker scored twice.').cats))"
    )
    out = run(python, "-c", code, env={"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"}).stdout
    assert json.loads(out.strip().splitlines()[-1]) == pytest.approx(expected, abs=1e-6)
