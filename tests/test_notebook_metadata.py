"""Every notebook carries the kernel and language metadata that plain `papermill` and JupyterLab need, and plain
papermill runs a report with nothing but `-p` parameters (no `-k python3 --language python`)."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "nbs").rglob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: str(p.relative_to(ROOT / "nbs")))
def test_kernel_and_language_metadata(path):
    metadata = json.loads(path.read_text())["metadata"]
    assert metadata.get("kernelspec", {}).get("name") == "python3", f"{path}: no kernelspec python3"
    assert metadata.get("language_info", {}).get("name") == "python", f"{path}: no language_info python"


def test_nbdev_clean_keeps_the_metadata(tmp_path):
    "nbdev-clean (the project's settings) leaves kernelspec and language_info in place."
    from nbdev.clean import clean_nb
    from nbdev.config import get_config
    notebook = json.loads((ROOT / "nbs" / "reports" / "bilateral_brain.ipynb").read_text())
    clean_nb(notebook, allowed_metadata_keys=get_config().allowed_metadata_keys,
             allowed_cell_metadata_keys=get_config().allowed_cell_metadata_keys)
    assert {"kernelspec", "language_info"} <= set(notebook["metadata"])


def test_plain_papermill_runs_a_report(tmp_path):
    "`papermill nbs/reports/score_model.ipynb out.ipynb -p preset quick` (tiny under test), as a new user types it."
    out = tmp_path / "out.ipynb"
    env = {**os.environ, "NEURONB_TEST": "1"}
    done = subprocess.run([sys.executable, "-m", "papermill", str(ROOT / "nbs" / "reports" / "score_model.ipynb"),
                           str(out), "-p", "preset", "quick", "--cwd", str(tmp_path)],
                          capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    executed = json.loads(out.read_text())
    errors = [o for c in executed["cells"] for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert errors == [] and executed["metadata"]["papermill"]["parameters"] == {"preset": "quick"}
