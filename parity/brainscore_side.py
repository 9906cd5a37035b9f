"""Brain-Score's own numbers for one fixture: run with the parity environment's python (see `make parity`).

python brainscore_side.py NEURAL.nc FEATURES.nc OUT.json
NEURAL.nc: a neural assembly with repetitions (brainio layout); FEATURES.nc: a model assembly (presentation x neuroid)
on the same stimuli. Writes {raw, ceiling, score, raw_per_split, ceiling_per_split} from brainscore-vision's
pls metric, internal-consistency ceiling and explained-variance ceiling convention."""
import json
import sys
import warnings

warnings.simplefilter("ignore")

from brainscore_core.supported_data_standards.brainio.assemblies import NeuroidAssembly
from brainscore_vision.benchmark_helpers.neural_common import average_repetition, explained_variance
from brainscore_vision.metrics.internal_consistency.ceiling import InternalConsistency
from brainscore_vision.metrics.regression_correlation.metric import (CrossRegressedCorrelation, pearsonr_correlation,
                                                                     pls_regression)


def main(neural_path: str, features_path: str, out_path: str) -> None:
    neural = NeuroidAssembly.from_files(neural_path)
    features = NeuroidAssembly.from_files(features_path)
    if "time_bin" in neural.dims:
        neural = neural.mean("time_bin")
    target = average_repetition(neural)
    metric = CrossRegressedCorrelation(regression=pls_regression(), correlation=pearsonr_correlation())
    raw = metric(features, target)
    ceiling = InternalConsistency()(neural)
    score = explained_variance(raw, ceiling)

    def per_split(score):           # the median over neuroids of each split, as Brain-Score aggregates
        values = score.attrs["raw"]
        return [float(v) for v in (values.median("neuroid") if "neuroid" in values.dims else values).values]

    result = {"raw": float(raw.values), "ceiling": float(ceiling.values), "score": float(score.values),
              "raw_per_split": per_split(raw), "ceiling_per_split": per_split(ceiling)}
    with open(out_path, "w") as f:
        json.dump(result, f, indent=1)


if __name__ == "__main__":
    main(*sys.argv[1:4])
