"""Rehearsal of Wiring Up Vision's paper preset: an ImageNet tree as distributed (`train/<wnid>/*.JPEG`,
`val/<wnid>/*.JPEG`, images of mixed sizes, no `test/`), CORnet-S, the WC and Gabor init specs, critical training,
the images x epochs grid, scoring against neural and behavioural assemblies in Brain-Score's own files (brainio
`.nc` with a stimulus-set CSV and zip), and the report on the exported score
database: the commands a GPU user types, with `--preset rehearsal` (the paper recipe at the tiny preset's sizes)."""
import json
import shutil

import pytest
import torch

from neuronb.analysis.behavior import behavior_trials, surrogate_behavior
from neuronb.analysis.predictivity import normalized_input, surrogate_neural_data
from neuronb.data.brainio import write_behavioral_assembly, write_responses_assembly, write_stimulus_set
from neuronb.data.core import ImageSet
from neuronb.data.formats import write_image_folder
from neuronb.experiments.protocol import RunFolder, load_run
from neuronb.experiments.wiring import (checkpoint_name, held_out_images, read_score_file, saved_epochs,
                                        trained_fractions)
from neuronb.report import run_reports
from neuronb.store import RunStore
from conftest import cli_in_process

WNIDS = ["n01440764", "n01443537", "n01484850", "n01491361"]      # class folders are WordNet ids, sorted
STANDARD, WCCT = "CORnet-S_full", "CORnet-S_cluster2_v2_IT_trconv3_bi"   # the paper's identifiers


def write_imagenet(root, n_train=10, n_val=5, size=40, seed=0):
    """`root/{train,val}/<wnid>/*.JPEG`, a faint colour per class under noise; one image per class folder of another
    size (ImageNet's images differ in size). Per class: `n_train + 1` training and `n_val + 1` validation images."""
    g = torch.Generator().manual_seed(seed)
    colours = torch.rand(len(WNIDS), 3, 1, 1, generator=g) * 200
    for split, n in (("train", n_train), ("val", n_val)):
        for shape, count, folder in (((size, size), n, root / split), ((size + 13, size - 5), 1, root / f"{split}-odd")):
            labels = torch.arange(len(WNIDS)).repeat_interleave(count)
            pixels = 0.3 * colours[labels] + torch.rand(len(labels), 3, *shape, generator=g) * 190   # not too easy
            write_image_folder(ImageSet(pixels.to(torch.uint8), {"fine": labels}, {"fine": WNIDS}, "imagenet", split),
                               folder, ext="JPEG")
        for path in sorted((root / f"{split}-odd").glob("*/*.JPEG")):
            path.rename(root / split / path.parent.name / f"{path.parent.name}_{path.stem}.JPEG")
        shutil.rmtree(root / f"{split}-odd")
    return root


cli = cli_in_process


@pytest.fixture(scope="module")
def rehearsal(tmp_path_factory):
    work = tmp_path_factory.mktemp("wiring_rehearsal")
    with pytest.MonkeyPatch.context() as env:      # run folders the commands make by default: here, not in runs/
        env.setenv("NEURONB_RUNS", str(work / "runs"))
        yield rehearse(work)


def rehearse(work):
    "The commands of a paper study at the rehearsal preset; what they wrote."
    # 10 val images a class: Brain-Score's 90/10 splits stratified by object need a test stimulus of each of the 4
    imagenet, store = write_imagenet(work / "imagenet", n_val=10), work / "store.sqlite"
    common = ["--preset", "rehearsal", "--root", imagenet, "--store", store]
    # standard training on the images x epochs grid (Kaiming-normal "KN" weights, every layer learns)
    cli("wiring", "grid", *common, "--name", "standard", "--run-dir", work / "grid")
    points = RunFolder(work / "grid").result()["points"]
    full = next(p["run_dir"] for p in points if p["name"] == "standard_img0_kaiming_normal_all")
    img40 = next(p["run_dir"] for p in points if p["name"] == "standard_img40_kaiming_normal_all")
    # the init specs from the trained network: WC (Gabor first layer, clusters elsewhere) and Gabor alone
    for method in ("wc", "gabor"):
        cli("wiring", "init", "--run-dir", full, "--out", work / f"{method}.json", "--method", method,
            "--n-init", 1, "--gabor-steps", 20, "--gabor-starts", 2)
    # critical training from the WC init: only the conv3s and the decoder learn
    wcct = json.loads(cli("wiring", "train", *common, "--init", work / "wc.json", "--trained", "critical",
                          "--name", "wcct", "--run-dir", work / "wcct"))
    # neural and behavioural data on the held-out (val) images, recorded from a network that is not scored (the
    # 40-image run's weights part way through its epoch), written as Brain-Score writes MajajHong2015 and
    # Rajalingham2018: a neural assembly with repetitions, trials of a 2AFC task, and their stimulus set
    reference = load_run(img40, checkpoint_name(max(e for e in saved_epochs(img40) if 0 < e < 1))).model
    held_out = held_out_images(load_run(full, model=False).config)
    ids = [f"val{i:03d}" for i in range(len(held_out.images))]
    objects = [WNIDS[k] for k in held_out.labels["fine"].tolist()]
    stimuli, _ = write_stimulus_set(work / "stimulus_rehearsal_val.csv", held_out.images.numpy(), ids,
                                    {"object_name": objects})
    brain = surrogate_neural_data(reference, held_out.images, reference.region_layers, n_neuroids=16,
                                  preprocess=normalized_input())
    write_responses_assembly(work / "assy_rehearsal_neural.nc", brain["responses"].values, ids, brain["region"].values,
                             stimulus_coords={"object_name": objects}, stimulus_set_identifier="rehearsal.val")
    trials = behavior_trials(surrogate_behavior(reference, held_out.images, held_out.labels["fine"],
                                                reference.region_layers["IT"], n_trials=8, preprocess=normalized_input()))
    write_behavioral_assembly(work / "assy_rehearsal_trials.nc", [ids[i] for i in trials["stimulus"]],
                              trials["sample_obj"], trials["dist_obj"], correct=trials["correct"],
                              stimulus_set_identifier="rehearsal.val")
    data = ["--neural", work / "assy_rehearsal_neural.nc", "--neural-stimuli", stimuli,
            "--behavior", work / "assy_rehearsal_trials.nc", "--behavior-stimuli", stimuli]
    scores = {}
    for run, epoch, name, extra in ((full, 1, f"{STANDARD}_epoch_1", []),        # the paper's score: V1 properties too
                                    (full, 0, f"{STANDARD}_epoch_0", ["--set", "v1=false"]),
                                    (img40, 1, f"{STANDARD}_img40_epoch_1", ["--set", "v1=false"]),
                                    (work / "wcct", 0, f"{WCCT}_epoch_0", ["--set", "v1=false"]),
                                    (work / "wcct", 1, f"{WCCT}_epoch_1", ["--set", "v1=false"])):
        scores[name] = json.loads(cli("wiring", "score", "--preset", "rehearsal", "--store", store, "--run", run,
                                      "--epoch", epoch, *data, "--modification", name, *extra))
    cli("wiring", "export-scores", "--store", store, work / "scores.sqlite")
    return {"work": work, "store": RunStore(store), "points": points, "wcct": wcct, "scores": scores, "full": full}


def test_the_paper_path_ran(rehearsal):
    store, work = rehearsal["store"], rehearsal["work"]
    runs = store.find_runs(kind="wiring.train")
    assert len(runs) == 3 and set(runs["status"]) == {"finished"}
    for folder in (rehearsal["full"], work / "wcct", work / "grid"):
        assert RunFolder(folder).result() is not None                         # result.json written
    config = load_run(rehearsal["full"], model=False).config                 # the paper recipe, read from ImageNet
    assert (config.dataset, config.test_split, config.val_fraction, config.train.lr) == ("imagefolder", "val", 0.0, 0.1)
    assert config.model == "cornet_s" and "small_input" not in config.model_kw and config.image_size == 32
    # the paper's model family, narrowed: CORnet-S's areas at 224 px are 56, 28, 14 and 7 pixels wide
    model, shapes = load_run(rehearsal["full"]).model, {}
    for area in ("V1", "V2", "V4", "IT"):
        getattr(model, area).register_forward_hook(lambda m, i, out, area=area: shapes.__setitem__(area, out.shape[-1]))
    with torch.no_grad():
        model(torch.zeros(1, 3, 224, 224))
    assert shapes == {"V1": 56, "V2": 28, "V4": 14, "IT": 7}
    assert trained_fractions(("all",))["weights_to_train"][0] == 53_416_616        # at full width, 1000 classes
    grid = {(p["images"], p["epoch"]) for p in rehearsal["points"]}
    assert grid == {(40, 0.0), (40, 1.0), (44, 0.0), (44, 1.0)}             # 11 images of each of 4 classes
    wcct = rehearsal["wcct"]
    assert wcct["images"] == 44 and 0 < wcct["trained_fraction"] < 0.1 and 0 <= wcct["test"]["acc"] <= 1
    assert json.loads((work / "wc.json").read_text())["layers"]["V1.conv1"]["method"] == "gabor"
    assert list(json.loads((work / "gabor.json").read_text())["layers"]) == ["V1.conv1"]


def test_scores_are_in_the_store_and_the_database(rehearsal):
    raw = rehearsal["store"].raw_scores()
    assert set(raw["modification"]) == set(rehearsal["scores"])
    for name, scores in rehearsal["scores"].items():
        measured = {b.split(".")[-1] for b in scores}
        assert {"V1-pls", "V2-pls", "V4-pls", "IT-pls", "behavior-i2n", "top1"} <= measured, (name, scores)
    assert "v1.properties" in rehearsal["scores"][f"{STANDARD}_epoch_1"]
    exported, parameters = read_score_file(rehearsal["work"] / "scores.sqlite")
    assert len(exported) == len(raw) and len(parameters) == 3 and (parameters["weights_to_train"] > 0).all()
    metrics = rehearsal["store"].metrics(rehearsal["wcct"]["run_id"])
    assert {"acc", "trained_parameters"} <= set(metrics.columns)


def test_the_report_draws_every_figure_from_the_database(rehearsal):
    work = rehearsal["work"]
    birth = {"KN": f"{STANDARD}_epoch_0", "WC": f"{WCCT}_epoch_0"}
    parameters = {"scores_db": str(work / "scores.sqlite"), "standard": STANDARD, "wcct": WCCT,
                  "reference": f"{STANDARD}_epoch_1", "birth": birth,
                  "variants": {**birth, "WC+CT": f"{WCCT}_epoch_1"}}
    [result] = run_reports(["wiring_up_vision"], preset="rehearsal", out_dir=work / "report", parameters=parameters,
                           log=lambda *a: None)
    assert result.audit.problems == []
    # images: at birth, supervised updates, per benchmark, images x epochs, trained fractions; plotly: the explorer;
    # tables: the per-benchmark table, the claims and checks
    assert (result.audit.images, result.audit.plotly_figures, result.audit.tables) == (5, 1, 2)
