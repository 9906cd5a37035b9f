"The wiring_up_vision report plots an original-style scores database (the paper's identifiers) without training."
import json

import numpy as np
import pandas as pd

from neuronb.experiments.wiring.scores import export_scores
from neuronb.report import run_reports

BENCHMARKS = ["movshon.FreemanZiemba2013.V1-pls", "movshon.FreemanZiemba2013.V2-pls", "dicarlo.Majaj2015.V4-pls",
              "dicarlo.Majaj2015.IT-pls", "dicarlo.Rajalingham2018-i2n", "fei-fei.Deng2009-top1"]


def paper_style_scores(rng) -> pd.DataFrame:
    "Scores under the paper's identifiers (full, at-birth, critical training, images x epochs grids)."
    rows = []

    def add(modification, level):
        for benchmark in BENCHMARKS:
            rows.append({"model": "CORnet-S", "benchmark": benchmark, "batchnorm": True,
                         "score": float(level * (0.5 + 0.1 * rng.random())), "modification": modification,
                         "time": "2020-06-01 12:00:00"})

    add("CORnet-S_full_epoch_43", 1.0)
    add("CORnet-S_full_epoch_00", 0.4)
    add("CORnet-S_cluster2_IT_full_train_epoch_00", 0.55)
    add("CORnet-S_train_conv3_bi_epoch_29", 0.75)
    add("CORnet-S_cluster2_v2_IT_trconv3_bi_epoch_38", 0.85)
    for images in (1000, 100000):
        for epoch in ("00.5", "01", "06"):
            add(f"CORnet-S_full_img{images}_epoch_{epoch}", 0.5 + 0.03 * float(epoch))
            add(f"CORnet-S_cluster2_v2_IT_trconv3_bi_img{images}_epoch_{epoch}", 0.6 + 0.02 * float(epoch))
    return pd.DataFrame(rows)


def test_report_plots_an_original_scores_database(tmp_path):
    raw = paper_style_scores(np.random.default_rng(0))
    db = export_scores(raw, tmp_path / "scores.sqlite")
    run_reports(["wiring_up_vision"], out_dir=tmp_path / "out", parameters={"scores_db": str(db)}, log=lambda *a: None)
    assert (tmp_path / "out" / "wiring_up_vision.html").stat().st_size > 10_000
    executed = json.loads((tmp_path / "out" / "notebooks" / "wiring_up_vision.ipynb").read_text())
    printed = "".join("".join(o.get("text", "")) + "".join(o.get("data", {}).get("text/plain", ""))
                      for c in executed["cells"] if c["cell_type"] == "code" for o in c.get("outputs", []))
    n_ids = raw["modification"].nunique()
    assert f"{len(raw)} scores, {n_ids} identifiers; reference CORnet-S_full_epoch_43" in printed
    # the per-benchmark table's first column is brain predictivity %: the database's own means, as % of the reference
    means = raw[raw.benchmark != "fei-fei.Deng2009-top1"].groupby("modification").score.mean()
    expected = 100 * means["CORnet-S_full_epoch_00"] / means["CORnet-S_full_epoch_43"]
    kn_rows = [line.split() for line in printed.splitlines() if line.split()[:1] == ["KN"]]
    assert kn_rows, printed[-2000:]
    assert abs(float(kn_rows[0][1]) - expected) < 0.01, (kn_rows, expected)


def test_a_database_without_parameter_counts_or_at_birth_scores_gets_sentences_not_empty_figures(tmp_path):
    "As the original public database: `model_parameter` rows whose counts are 0, and identifiers the report lacks."
    raw = paper_style_scores(np.random.default_rng(1))
    raw = raw[raw["modification"] != "CORnet-S_cluster2_IT_full_train_epoch_00"]          # no WC at birth
    zeros = pd.DataFrame({"model_id": ["CORnet-S_full", "CORnet-S_cluster2_v2_IT_trconv3_bi"], "train_time": [0, 0],
                          "weights_fixed": [0, 0], "weights_to_train": [0, 0], "additional_params": [0, 0],
                          "flops": [None, None]})
    db = export_scores(raw, tmp_path / "scores.sqlite", zeros)
    [result] = run_reports(["wiring_up_vision"], preset="paper", out_dir=tmp_path / "out",
                           parameters={"scores_db": str(db), "wcct": "CORnet-S_nothing_like_this"}, log=lambda *a: None)
    assert result.audit.problems == []
    executed = json.loads((tmp_path / "out" / "notebooks" / "wiring_up_vision.ipynb").read_text())
    printed = "".join("".join(o.get("text", "")) for c in executed["cells"] if c["cell_type"] == "code"
                      for o in c.get("outputs", []))
    assert "model_parameter table holds no parameter counts (2 rows)" in printed
    assert "no brain predictivity for the at-birth model(s) ['WC']" in printed
    assert "no (images, epochs) point scored for both 'CORnet-S_nothing_like_this'" in printed
    # images: at birth (KN only), supervised updates (standard only), per benchmark, trained fractions (from the
    # architecture); plotly: the explorer; tables: the per-benchmark table, the claims and checks
    assert (result.audit.images, result.audit.plotly_figures, result.audit.tables) == (4, 1, 2)
