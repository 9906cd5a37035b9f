"""neuronb's Brain-Score mode against brainscore-vision 2.4.2 itself, on fixture files in the brainio layout.

python parity/compare.py --brainscore-python .venv-parity/bin/python [--out DIR]
Writes each fixture (a neural assembly with repetitions and a model-feature assembly on the same stimuli), scores it
with neuronb (`read_neural_assembly` + `scores_from_features`, mode "brainscore") and with Brain-Score's own pls metric,
internal-consistency ceiling and explained-variance convention (`brainscore_side.py`, run by the other python), prints
both side by side and exits 1 when raw, ceiling or score differ at the third decimal."""
import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from neuronb.analysis.predictivity import scores_from_features
from neuronb.data.brainio import read_neural_assembly, write_neural_assembly

HERE = Path(__file__).resolve().parent
TOLERANCE = 5e-4        # equal to the third decimal


def fixture(folder: Path, name: str, seed: int, n_stimuli: int = 96, n_objects: int = 8, n_features: int = 40,
            n_neuroids: int = 24, repetitions: int = 4, uneven: bool = False, nan_fraction: float = 0.0,
            legacy: bool = False, time_bins: int = 0, shuffle_rows: bool = True) -> tuple[Path, Path]:
    "A neural assembly whose responses are a noisy linear map of the features, and the features as a model assembly."
    rng = np.random.default_rng(seed)
    ids = np.array([f"stim{i:03d}" for i in rng.permutation(n_stimuli)])       # ids not in file order
    objects = np.array([f"object{i % n_objects}" for i in range(n_stimuli)])
    features = rng.normal(size=(n_stimuli, n_features)) + 0.5 * (np.arange(n_stimuli) % n_objects)[:, None]
    clean = features @ rng.normal(size=(n_features, n_neuroids)) / np.sqrt(n_features)
    reps = np.full(n_stimuli, repetitions)
    if uneven:                                   # a quarter of the stimuli recorded once less
        reps[rng.choice(n_stimuli, n_stimuli // 4, replace=False)] -= 1
    rows = np.repeat(np.arange(n_stimuli), reps)
    repetition = np.concatenate([np.arange(r) for r in reps])
    values = clean[rows] + rng.normal(scale=clean.std() * 1.2, size=(len(rows), n_neuroids))
    if nan_fraction:
        values[rng.random(values.shape) < nan_fraction] = np.nan
    if shuffle_rows:
        order = rng.permutation(len(rows))
        rows, repetition, values = rows[order], repetition[order], values[order]
    bins = None
    if time_bins:                                # the same response in every bin, plus bin-specific noise
        bins = [(70 + 10 * b, 80 + 10 * b) for b in range(time_bins)]
        values = values[:, :, None] + rng.normal(scale=0.3, size=(*values.shape, time_bins))
    neural = write_neural_assembly(folder / f"{name}.nc", values, ids[rows], "IT", repetitions=repetition,
                                   presentation_coords={"object_name": objects[rows]}, time_bins=bins,
                                   dims=("neuroid", "presentation") + (("time_bin",) if time_bins else ()),
                                   stimulus_set_identifier=f"parity.{name}", legacy=legacy)
    model = write_neural_assembly(folder / f"{name}.features.nc", features, ids, "IT",
                                  presentation_coords={"object_name": objects}, stimulus_set_identifier=f"parity.{name}")
    return neural, model


CASES = {   # name: what it tests, fixture options
    "plain": ("4 repetitions, rows shuffled, neuroid-major dims", {}),
    "legacy": ("legacy image_id and variable names, 2 time bins", {"legacy": True, "time_bins": 2}),
    "odd-repetitions": ("5 repetitions (halves of 2 and 3)", {"repetitions": 5}),
    "uneven": ("a quarter of the stimuli with 3 of 4 repetitions", {"uneven": True}),
    "nan": ("2% of the responses missing", {"nan_fraction": 0.02}),
}


def neuronb_side(neural: Path, model: Path) -> dict:
    data, model_data = read_neural_assembly(neural), read_neural_assembly(model)
    row_of = {sid: i for i, sid in enumerate(model_data["stimulus_id"].values)}
    feats = model_data["responses"].values[:, :, 0][[row_of[sid] for sid in data["stimulus_id"].values]]
    row = scores_from_features({"features": feats}, data, mode="brainscore", n_bootstrap=0).iloc[0]
    return {"raw": float(row.raw), "ceiling": float(row.ceiling), "score": float(row.score)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--brainscore-python", required=True, help="python of the environment with brainscore-vision")
    parser.add_argument("--out", help="folder for the fixtures and Brain-Score's results (default: a temporary one)")
    args = parser.parse_args()
    folder = Path(args.out or tempfile.mkdtemp(prefix="parity-"))
    folder.mkdir(parents=True, exist_ok=True)
    rows, failed = [], []
    for seed, (name, (what, options)) in enumerate(CASES.items()):
        neural, model = fixture(folder, name, seed, **options)
        ours = neuronb_side(neural, model)
        out = folder / f"{name}.brainscore.json"
        subprocess.run([args.brainscore_python, str(HERE / "brainscore_side.py"), str(neural), str(model), str(out)],
                       check=True, env={**os.environ, "TQDM_DISABLE": "1"})
        theirs = json.loads(out.read_text())
        row = {"case": name, "what": what}
        for key in ("raw", "ceiling", "score"):
            row[f"{key} neuronb"], row[f"{key} brainscore"] = ours[key], theirs[key]
            if not abs(ours[key] - theirs[key]) <= TOLERANCE:
                failed.append(f"{name} {key}")
        rows.append(row)
    table = pd.DataFrame(rows).set_index("case")
    with pd.option_context("display.width", 200, "display.max_columns", 20, "display.float_format", "{:.5f}".format):
        print(table.drop(columns="what"))
        print()
        print(table["what"].to_string())
    print(f"\nfixtures and Brain-Score's results in {folder}")
    if failed:
        print(f"NOT EQUAL to the third decimal: {', '.join(failed)}")
        return 1
    print(f"equal to the third decimal (|difference| <= {TOLERANCE}) in all {len(rows)} cases")
    return 0


if __name__ == "__main__":
    sys.exit(main())
