"""`neuronb score` from a shell: bad input is one line and exit 2, and no run folder is left behind."""
import os
import subprocess
import sys


def _score(*args, cwd):
    return subprocess.run([sys.executable, "-m", "neuronb", "score", *args], capture_output=True, text=True, cwd=cwd,
                          env={**os.environ, "NEURONB_RUNS": str(cwd)})


def test_missing_files_are_one_line_and_exit_2(tmp_path):
    out = _score("--model", "resnet18_cifar", "--neural", str(tmp_path / "assy.nc"), "--stimuli",
                 str(tmp_path / "stimuli.csv"), "--run-dir", str(tmp_path / "run"), cwd=tmp_path)
    assert out.returncode == 2 and out.stderr.strip().count("\n") == 0 and "Traceback" not in out.stderr
    assert "stimuli.csv" in out.stderr and not (tmp_path / "run").exists()


def test_a_pretrained_model_is_refused(tmp_path):
    out = _score("--model", "torchvision:resnet18", "--set", "model_kw.weights=IMAGENET1K_V1", "--neural", "x.nc",
                 "--stimuli", "x.csv", cwd=tmp_path)
    assert out.returncode == 2 and "not downloaded" in out.stderr and "Traceback" not in out.stderr
