"Baby vision: frame extraction, MoCo mechanics, temporal pairs, selectivity, attention maps, probe, protocols, sweep spec, CLI."
import math

import numpy as np
import pytest
import torch
from torch import nn

from conftest import run_cli


def _known_video(path, n_frames=90, fps=30, size=(48, 64)):
    from neuronb.data.video import write_video
    levels = (2 * np.arange(n_frames)).astype(np.uint8)
    clip = np.repeat(levels[:, None, None, None], 3, 3) * np.ones((1, *size, 3), dtype=np.uint8)
    return write_video(path, clip, fps=fps), levels


def test_frame_counts_and_class_sizes(tmp_path):
    from neuronb.data import get_dataset
    from neuronb.data.frame_extraction import class_size_table, extract_frames
    _known_video(tmp_path / "videos" / "a.mp4")          # 3 s at 30 fps
    _known_video(tmp_path / "videos" / "b.mp4")
    # exactly 5 fps: 15 frames per video; classes of 0.8 s = 4 frames, counted across the two videos
    summary = extract_frames(tmp_path / "videos", tmp_path / "out", fps=5, seg_len=0.8, short_side=32, crop=32)
    assert summary["frames"] == 30
    assert list(class_size_table(summary).frames) == [4] * 7 + [2]
    frames = get_dataset("frames", root=tmp_path / "out", in_memory=True)
    assert len(frames) == 30 and frames.images.shape[1:] == (3, 32, 32)
    # restarted per video: 3 full classes and one of 3 in each video
    restart = extract_frames(tmp_path / "videos", tmp_path / "restart", fps=5, seg_len=0.8, short_side=32, crop=32,
                             restart_per_video=True)
    assert list(class_size_table(restart).frames) == [4, 4, 4, 3, 4, 4, 4, 3]
    # the original's native_fps // fps + 1 rule: every 7th frame, 13 per video
    original = extract_frames(tmp_path / "videos", tmp_path / "orig", fps=5, seg_len=0.8, short_side=32, crop=32,
                              sampling="original")
    assert original["frames"] == 26 and math.isclose(original["videos"][0]["rate_fps"], 30 / 7)


def test_sampled_frames_are_the_right_source_frames(tmp_path):
    from neuronb.data.frame_extraction import iter_video_frames
    video, levels = _known_video(tmp_path / "v.mp4")
    got = list(iter_video_frames(video, fps=10, short_side=None, crop=None))
    assert [s for s, _, _ in got] == list(range(0, 90, 3))
    grey = np.array([f[24, 32].mean() for _, _, f in got])
    assert np.abs(grey - levels[::3]).max() < 6


def test_moco_queue_and_momentum_update():
    from neuronb.experiments.babyvision.moco import MoCo
    torch.manual_seed(0)
    enc = nn.Sequential(nn.Linear(5, 6), nn.BatchNorm1d(6), nn.ReLU(), nn.Linear(6, 3))
    moco = MoCo(enc, dim=3, queue_size=8, momentum=0.75, temperature=0.1, bn_groups=2)
    with torch.no_grad():
        for p in moco.encoder_q.parameters():
            p.mul_(2).add_(0.5)
    old = [p.clone() for p in moco.encoder_k.parameters()]
    moco.momentum_update()
    for q, k, o in zip(moco.encoder_q.parameters(), moco.encoder_k.parameters(), old):
        assert torch.allclose(k, 0.75 * o + 0.25 * q)
    moco.queue_ptr[0] = 6
    keys = torch.randn(4, 3)
    moco.enqueue(keys)
    assert int(moco.queue_ptr) == 2 and torch.equal(moco.queue[:, [6, 7, 0, 1]], keys.T)
    moco.train()
    logits = moco(torch.randn(10, 5))
    assert logits.shape == (5, 9) and int(moco.queue_ptr) == 7


def test_moco_key_encoder_normalises_with_batch_statistics(tmp_path):
    # regression: the engine once put every norm layer whose parameters need no gradient in eval mode, which made the
    # key encoder normalise with a fresh model's running statistics (mean 0, var 1) and MoCo learn nothing
    from neuronb.data import ImageSet
    from neuronb.experiments.babyvision.moco import moco_trainer
    from neuronb.experiments.protocol import Splits, preset_config
    g = torch.Generator().manual_seed(0)
    frames = ImageSet(torch.randint(0, 256, (48, 3, 32, 32), dtype=torch.uint8, generator=g),
                      {"time": torch.arange(48) // 8, "frame": torch.arange(48), "video": torch.zeros(48, dtype=torch.long)})
    config = preset_config("babyvision.moco", "tiny", mode="static", image_size=32, queue_size=16,
                           model_kw={"width": 0.25, "dropout": 0.0}, train={"epochs": 1, "batch_size": 16})
    trainer = moco_trainer(config, Splits(frames), run_dir=tmp_path / "moco")
    key_bns = [m for m in trainer.model.encoder_k.modules() if isinstance(m, nn.BatchNorm2d)]
    before = key_bns[0].running_mean.clone()
    trainer.fit()
    trainer.train_mode()
    assert not any(p.requires_grad for p in trainer.model.encoder_k.parameters())
    assert all(m.training for m in key_bns)
    assert not torch.equal(key_bns[0].running_mean, before)     # the keys' batches updated the statistics


def test_presets_keep_the_recipes():
    from neuronb.experiments.protocol import list_presets, list_protocols, preset_config
    assert list_protocols("babyvision") == ["babyvision.maps", "babyvision.moco", "babyvision.probe",
                                            "babyvision.selectivity", "babyvision.temporal"]
    assert all(list_presets(p) == ["tiny", "quick", "paper", "rehearsal"] for p in list_protocols("babyvision"))
    tc = preset_config("babyvision.temporal", "quick")
    assert (tc.train.epochs, tc.train.batch_size, tc.train.lr, tc.train.precision, tc.model_kw, tc.precise_bn) == \
        (80, 32, 2e-3, "fp32", {"width": 0.5}, True)
    assert (tc.val_split, tc.test_split, tc.label, tc.train.label, tc.train.seed) == ("test", None, "time", "time", tc.seed)
    paper = preset_config("babyvision.temporal", "paper")
    assert (paper.model, paper.dataset, paper.train.epochs, paper.train.batch_size, paper.train.lr) == \
        ("resnext50_32x4d", "frames", 16, 256, 5e-4)
    moco = preset_config("babyvision.moco", "quick")
    assert (moco.queue_size, moco.momentum, moco.temperature, moco.train.epochs, moco.train.batch_size, moco.train.lr,
            moco.train.warmup_epochs, moco.head_bn) == (128, 0.99, 0.2, 30, 64, 0.03, 3, True)
    moco = preset_config("babyvision.moco", "paper")
    assert (moco.queue_size, moco.momentum, moco.train.epochs, moco.train.lr, moco.train.batch_size, moco.bn_groups) == \
        (65536, 0.999, 12, 0.015, 128, 4)


def test_temporal_and_moco_runs_load_back(isolated):
    "Both training protocols write a run folder that `load_run` reads back: the backbone, and MoCo's query encoder."
    from neuronb.experiments.protocol import load_run, run
    from neuronb.store import RunStore
    store = RunStore(isolated / "store.sqlite")
    small = {"dataset_kw": {"seconds": 4, "seg_len": 2}, "train": {"batch_size": 8}}
    tc = run("babyvision.temporal", preset="tiny", store=store, run_dir=isolated / "tc", **small)
    assert set(tc.metrics) == {"val"} and 0 <= tc.metrics["val"]["acc"] <= 1
    loaded = load_run(isolated / "tc")
    assert loaded.protocol == "babyvision.temporal" and loaded.result["val_acc"] == tc.metrics["val"]["acc"]
    assert loaded.config.dataset_kw["seconds"] == 4 and loaded.config.train.seed == loaded.config.seed
    assert all(torch.equal(a, b) for a, b in zip(loaded.model.state_dict().values(), tc.model.state_dict().values()))
    moco = run("babyvision.moco", preset="tiny", store=store, run_dir=isolated / "moco", queue_size=8, **small)
    loaded = load_run(isolated / "moco")
    assert loaded.protocol == "babyvision.moco" and loaded.result["mode"] == "temporal"
    assert all(torch.equal(a, b) for a, b in zip(loaded.model.state_dict().values(),
                                                 moco.model.encoder_q.state_dict().values()))
    probe = run("babyvision.probe", preset="tiny", run_dir=isolated / "probe", probe_epochs=2,
                sources={"tc": str(isolated / "tc"), "moco": str(isolated / "moco")})
    assert set(probe.table.model) == {"tc", "moco", "HOG"} and probe.table.test_acc.between(0, 1).all()


def test_example_sweep_spec_runs_at_tiny_size(isolated):
    "examples/babyvision.yaml expands to MoCo's two modes x two seeds; at the tiny preset every run finishes and is recorded."
    from dataclasses import replace
    from pathlib import Path
    from neuronb.experiments.protocol import load_run
    from neuronb.experiments.runs import expand_spec, load_spec, read_sweep, run_inline
    spec = load_spec(Path(__file__).resolve().parents[1] / "examples" / "babyvision.yaml")
    assert spec.protocol == "babyvision.moco" and spec.preset == "quick"
    quick = expand_spec(spec)
    assert {(r.params["mode"], r.params["seed"]) for r in quick} == {(m, s) for m in ("static", "temporal") for s in (0, 1)}
    assert all(r.config["train"]["epochs"] == 30 for r in quick)
    spec = replace(spec, preset="tiny", root=str(isolated / "sweep"), store=str(isolated / "sweep.sqlite"),
                   base={"queue_size": 8, "dataset_kw": {"seconds": 4, "seg_len": 2}, "train": {"batch_size": 8}})
    runs = expand_spec(spec)
    assert [r.params for r in runs] == [r.params for r in quick] and all(r.config["train"]["epochs"] == 1 for r in runs)
    table = run_inline(spec)
    assert list(table.status) == ["finished"] * 4
    assert read_sweep(spec).run_id.tolist() == table.run_id.tolist()       # recorded in the store
    loaded = load_run(table.run_dir[1])
    assert loaded.protocol == "babyvision.moco" and loaded.config.seed == table.seed[1]
    assert loaded.result["mode"] == runs[1].params["mode"]


def test_temporal_positive_pairs_are_neighbours():
    from neuronb.experiments.babyvision.moco import temporal_partners
    frame = torch.cat([torch.arange(40), torch.arange(25)])
    video = torch.cat([torch.zeros(40), torch.ones(25)]).long()
    perm = torch.randperm(65, generator=torch.Generator().manual_seed(0))
    frame, video = frame[perm], video[perm]
    for window in [(-1, 0), (-2, 2), (0, 1)]:
        partner = temporal_partners(frame, window, video, torch.Generator().manual_seed(1))
        offset = frame[partner] - frame
        assert torch.equal(video[partner], video)
        assert window[0] <= offset.min() and offset.max() <= window[1]
    original = temporal_partners(frame, (-1, 0), video, torch.Generator().manual_seed(2))
    assert set((frame[original] - frame).tolist()) == {-1, 0}


def test_selectivity_on_a_hand_computed_table():
    from neuronb.analysis.selectivity import class_means, selectivity_index
    acts = torch.tensor([[6.0, 1.0], [2.0, 1.0], [0.0, 1.0], [0.0, 3.0]])
    labels = torch.tensor([0, 0, 1, 2])
    means = class_means(acts, labels)                     # unit 0: 4, 0, 0; unit 1: 1, 1, 3
    assert torch.equal(means, torch.tensor([[4.0, 1.0], [0.0, 1.0], [0.0, 3.0]], dtype=torch.float64))
    si = selectivity_index(means)
    assert torch.allclose(si, torch.tensor([1.0, (3 - 1) / (3 + 1)], dtype=torch.float64))


def test_attention_map_formula_on_a_known_feature_map():
    from neuronb.analysis.attention_maps import attention_mask, class_map
    features = torch.zeros(1, 3, 2, 2)
    features[0, 0] = torch.tensor([[1.0, 0.0], [0.0, 0.0]])
    features[0, 2] = torch.tensor([[0.0, 0.0], [0.0, 2.0]])
    m = class_map(features, torch.tensor([2.0, 5.0, -1.0]))
    assert torch.equal(m, torch.tensor([[[2.0, 0.0], [0.0, -2.0]]]))
    std = torch.tensor([2.0, 0.0, 0.0, -2.0]).std()
    expected = torch.sigmoid(10 * m / std)
    assert torch.allclose(attention_mask(m), expected)
    assert attention_mask(m, size=16).shape == (1, 16, 16)


def test_probe_leaves_the_trunk_unchanged():
    from neuronb.analysis.probe import linear_probe, probe_splits
    from neuronb.data.toybox import generate_toybox
    from neuronb.models import create
    data = generate_toybox(n_categories=2, n_instances=2, transformations=("rotate",), n_frames=4, image_size=32)
    torch.manual_seed(0)
    net = create("mobilenet_v2", num_classes=4, width=0.25).train()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    for protocol, (train, test) in probe_splits(data, ("exemplar",)).items():
        out = linear_probe(net, train, test, "features", epochs=3, lr=1e-2, batch_size=32)
        assert 0 <= out["test_acc"] <= 1 and len(out["test_pred"]) == len(test)
    assert net.training
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())


def test_exemplar_split_holds_out_whole_instances():
    from neuronb.data.toybox import exemplar_split, generate_toybox
    data = generate_toybox(n_categories=2, n_instances=3, transformations=("zoom",), n_frames=2, image_size=16)
    train, test = exemplar_split(data, n_held_out=1, seed=3)
    assert not set(train.labels["instance"].tolist()) & set(test.labels["instance"].tolist())
    assert sorted(test.labels["category"].unique().tolist()) == [0, 1]


def test_cli_smoke(tmp_path):
    _known_video(tmp_path / "videos" / "a.mp4")
    result = run_cli("babyvision", "frames", "--videos", tmp_path / "videos", "--out", tmp_path / "frames",
                     "--fps", 5, "--seg-len", 1, "--short-side", 32, "--crop", 32)
    assert result.returncode == 0, result.stderr
    assert "15 frames in 3 classes" in result.stdout


def test_cli_bad_input_names_the_path(tmp_path, capsys):
    from neuronb.cli import main
    assert main(["babyvision", "frames", "--videos", str(tmp_path / "missing"), "--out", str(tmp_path / "x")]) == 2
    assert "missing" in capsys.readouterr().err
    assert main(["babyvision", "probe", "--preset", "tiny", "--source", str(tmp_path / "nowhere")]) == 2
    assert "nowhere" in capsys.readouterr().err
    assert main(["babyvision", "train", "--preset", "tiny", "--set", "train.lr=abc"]) == 2
    assert "train.lr" in capsys.readouterr().err
