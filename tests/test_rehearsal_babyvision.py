"""Rehearsal of baby vision's paper preset: the commands a GPU user types (`neuronb babyvision frames|train|moco|probe
--preset paper ...`, `neuronb report baby_vision --preset paper --param frames_root=DIR --param toybox_root=DIR`) with
`--preset rehearsal`, i.e. the original recipes (`read_saycam.py`'s extraction, ResNeXt-50 temporal classification with
Adam 5e-4, MoCo v2 with K / m / T of `moco_temp.py`, the linear read-out on iid and exemplar splits with HOG) at the
tiny preset's sizes, on fixture data written in the on-disk formats: video files of different lengths and frame rates,
the frames extracted from them (`class_XXXX/img_XXXX.jpeg`), and Toybox frames (`<category>/<clip>_<frame>.jpeg`)."""
import json
from concurrent.futures import ThreadPoolExecutor
from contextlib import redirect_stdout
from io import StringIO

import numpy as np
import pytest

from neuronb.cli import main
from neuronb.data import get_dataset
from neuronb.data.toybox import generate_toybox, write_toybox_folder
from neuronb.data.video import video_codec, write_video
from neuronb.experiments.protocol import RunFolder
from neuronb.report import run_reports
from neuronb.store import RunStore

# (name, seconds, native fps): three recordings of different lengths and frame rates, as a camera writes them
VIDEOS = (("S_20130523_0824_01", 6.0, 30), ("S_20130523_0824_02", 4.0, 25), ("S_20130601_1104_01", 3.2, 10))
FRAMES_PER_CLASS = 20          # the rehearsal's 4-s classes at 5 fps (paper: 288 s, 1440 frames)


def _recording(seconds: float, fps: float, seed: int, size=(90, 120)) -> np.ndarray:
    "RGB frames `(T, H, W, 3)`: a coloured field with a bright bar sweeping across it, different per recording."
    rng = np.random.default_rng(seed)
    n = int(round(seconds * fps))
    h, w = size
    base = (rng.uniform(40, 200, (1, 1, 1, 3)) * np.linspace(0.5, 1.0, w)[None, None, :, None]).repeat(h, 1)
    frames = np.repeat(base, n, 0)
    for t in range(n):
        x = int((t / max(n - 1, 1)) * (w - 12))
        frames[t, :, x:x + 12] = 240
    return frames.astype(np.uint8)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    "Video files as recorded (sorted by name = by time) and a Toybox-style frame tree (3 categories x 3 objects)."
    root = tmp_path_factory.mktemp("babyvision_data")
    suffix = video_codec()[1]
    for k, (name, seconds, fps) in enumerate(VIDEOS):
        write_video(root / "videos" / f"{name}{suffix}", _recording(seconds, fps, k), fps=fps)
    toys = generate_toybox(n_categories=3, n_instances=3, transformations=("rotate", "zoom"), n_frames=2, image_size=64)
    write_toybox_folder(toys, root / "toybox_1fps")
    return {"videos": root / "videos", "toybox": root / "toybox_1fps", "n_toys": len(toys)}


def _cli(*argv) -> tuple[int, str]:
    buffer = StringIO()
    with redirect_stdout(buffer):
        code = main([str(a) for a in argv])
    return code, buffer.getvalue()


def _first_json(printed: str) -> dict:
    return json.JSONDecoder().raw_decode(printed[printed.index("{"):])[0]


def _report(frames_root, toybox_root, out):
    "`neuronb report baby_vision --preset rehearsal --param frames_root=DIR --param toybox_root=DIR`."
    [result] = run_reports(["baby_vision"], preset="rehearsal", out_dir=out / "html", log=lambda *_: None,
                           parameters={"frames_root": str(frames_root), "toybox_root": str(toybox_root),
                                       "out_dir": str(out / "runs")})
    return {"result": result, "runs": out / "runs"}


@pytest.fixture(scope="module")
def pipeline(data, tmp_path_factory):
    """frames -> train -> moco static / temporal -> probe, each `neuronb babyvision <action> --preset rehearsal`; the
    report on the extracted frames runs beside them (its kernel is another process: the two cores work at once)."""
    out = tmp_path_factory.mktemp("babyvision_runs")
    common = ["--preset", "rehearsal", "--store", out / "store.sqlite"]
    done = {"out": out, "store": out / "store.sqlite"}
    done["frames"] = _cli("babyvision", "frames", "--preset", "rehearsal", "--videos", data["videos"], "--out", out / "frames")
    pool = ThreadPoolExecutor(1)
    done["report"] = pool.submit(_report, out / "frames", data["toybox"], tmp_path_factory.mktemp("babyvision_report"))
    pool.shutdown(wait=False)
    for action, extra in (("train", ["--run-dir", out / "tc"]),
                          ("moco_static", ["--mode", "static", "--run-dir", out / "moco_static"]),
                          ("moco_temporal", ["--mode", "temporal", "--run-dir", out / "moco_temporal"])):
        done[action] = _cli("babyvision", action.split("_")[0], *common, "--root", out / "frames", "--quiet", *extra)
    sources = [f"{name}={out / name}" for name in ("tc", "moco_static", "moco_temporal")] + ["random"]
    done["probe"] = _cli("babyvision", "probe", *common, "--root", data["toybox"], *[a for s in sources for a in ("--source", s)],
                         "--run-dir", out / "probe")
    return done


@pytest.fixture(scope="module")
def report(pipeline):
    return pipeline["report"].result()


def test_frames_extracted_with_the_paper_settings(pipeline):
    code, printed = pipeline["frames"]
    assert code == 0, printed
    summary = json.loads((pipeline["out"] / "frames" / "extraction.json").read_text())
    settings = summary["settings"]
    assert (settings["fps"], settings["rotate"], settings["sampling"]) == (5, True, "exact")      # the paper's
    assert (settings["frames_per_class"], settings["crop"]) == (FRAMES_PER_CLASS, 64)             # the tiny sizes
    # exactly 5 fps from every native rate; classes run across the video boundaries
    assert [v["frames_kept"] for v in summary["videos"]] == [round(s * 5) for _, s, _ in VIDEOS]
    assert [v["native_fps"] for v in summary["videos"]] == [fps for *_, fps in VIDEOS]
    sizes = list(summary["classes"].values())
    assert sum(sizes) == summary["frames"] == 66 and sizes[:-1] == [FRAMES_PER_CLASS] * (len(sizes) - 1)
    frames = get_dataset("frames", root=pipeline["out"] / "frames", in_memory=True)
    assert len(frames) == 66 and frames.images.shape[1:] == (3, 64, 64) and frames.num_classes("time") == len(sizes)


def test_training_runs_finished_with_the_paper_recipe(pipeline):
    for action in ("train", "moco_static", "moco_temporal"):
        code, printed = pipeline[action]
        assert code == 0, printed
        assert _first_json(printed)["epochs"] == 1, action
    tc, static, temporal = (RunFolder(pipeline["out"] / n) for n in ("tc", "moco_static", "moco_temporal"))
    for folder in (tc, static, temporal):
        assert folder.result() is not None and folder.last_checkpoint() is not None, folder
        config = folder.config_dict()
        assert (config["dataset"], config["model"], config["model_kw"], config["image_size"]) == \
            ("frames", "resnext50_32x4d", {"width": 0.5}, 32)
    config = tc.config_dict()
    assert (config["train"]["optimizer"], config["train"]["lr"], config["augment"]) == ("adam", 5e-4, True)
    for folder, mode in ((static, "static"), (temporal, "temporal")):
        config = folder.config_dict()
        assert (config["mode"], config["momentum"], config["temperature"], config["train"]["lr"], config["mlp"]) == \
            (mode, 0.999, 0.2, 0.015, True)


def test_probe_decodes_from_every_source_on_both_splits(pipeline, data):
    code, printed = pipeline["probe"]
    assert code == 0, printed
    folder = RunFolder(pipeline["out"] / "probe")
    config = folder.config_dict()
    assert (config["dataset"], config["layer"], config["probe_lr"]) == ("toybox_folder", "layer4", 5e-4)
    rows = folder.result()["decoding"]
    assert {(r["model"], r["protocol"]) for r in rows} == {
        (m, p) for m in ("tc", "moco_static", "moco_temporal", "random", "HOG") for p in ("iid", "exemplar")}
    assert all(0 <= r["test_acc"] <= 1 and r["n_train"] + r["n_test"] == data["n_toys"] for r in rows)
    # iid: half the frames; exemplar: one whole object of each of the 3 categories (2 clips x 2 frames each) held out
    assert {r["protocol"]: r["n_test"] for r in rows} == {"iid": data["n_toys"] // 2, "exemplar": 3 * 4}


def test_toybox_fixture_reads_back_object_by_object(data):
    toys = get_dataset("toybox_folder", root=data["toybox"])
    assert len(toys) == data["n_toys"] and toys.classes["category"] == ["blob", "star", "triangle"]    # folders by name
    assert toys.labels["instance"].unique().tolist() == list(range(9)) and toys.classes["transformation"] == ["rotate", "zoom"]
    first = sorted(p.name for p in (data["toybox"] / "star").iterdir())[:2]
    assert first == ["star_01_pivothead_rotate_0000.jpeg", "star_01_pivothead_rotate_0001.jpeg"]


def test_runs_and_metrics_in_the_store(pipeline):
    store = RunStore(pipeline["store"])
    runs = store.runs()
    assert sorted(runs["kind"]) == ["babyvision.moco", "babyvision.moco", "babyvision.probe", "babyvision.temporal"]
    assert set(runs["status"]) == {"finished"}
    trained = list(runs.loc[runs["kind"] != "babyvision.probe", "run_id"])
    metrics = store.metrics(trained, wide=False)
    for run_id in trained:
        mine = metrics[(metrics["run_id"] == run_id) & (metrics["split"] == "epoch")]
        assert {"train_loss", "train_acc"} <= set(mine["key"]) and mine["value"].notna().all(), run_id


def test_report_has_every_figure_and_no_problem(report):
    result = report["result"]
    assert result.preset == "rehearsal" and result.html.is_file()
    assert result.audit.problems == []
    # images: the frames, attention maps, two selectivity plots, top images, a unit over time; plotly: curves, decoding
    # bars, the units-and-images explorer
    assert (result.audit.images, result.audit.plotly_figures) == (6, 3)
    # tables: the videos' frame counts, did anything learn, decoding accuracy, median selectivity, claims and checks
    assert result.audit.tables == 5
    store = RunStore(report["runs"] / "store.sqlite")
    runs = store.runs()
    assert set(runs["status"]) == {"finished"} and len(runs) == 6
    configs = [json.loads(c) if isinstance(c, str) else c for c in runs["config"]]
    assert {c["dataset"] for c in configs} == {"frames", "toybox_folder"}        # the paper presets' readers
    assert {c["model"] for c in configs} == {"resnext50_32x4d"}


def test_paper_extraction_dry_run_prints_its_plan(data, tmp_path):
    code, printed = _cli("babyvision", "frames", "--preset", "paper", "--dry-run", "--videos", data["videos"],
                         "--out", tmp_path / "frames")
    plan = _first_json(printed)
    assert code == 0 and not (tmp_path / "frames").exists()
    assert (plan["videos"], plan["frames"], plan["frames_per_class"], plan["classes"]) == (3, 66, 1440, 1)
    assert (plan["settings"]["short_side"], plan["settings"]["crop"], plan["settings"]["offset"]) == (256, 224, 16)
