"Reliability of the training engine: exact resume, atomic checkpoints under a killed process, bad input."
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch
from torch import nn

from neuronb.data.core import ImageSet
from neuronb.train import Callback, Trainer, TrainConfig


def toy_set(n=192, size=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 3, (n,), generator=g)
    x = torch.randint(0, 80, (n, 3, size, size), generator=g)
    x[:, :, :, : size // 3] += (60 * (y == 0)).view(-1, 1, 1, 1)
    x[:, :, :, size // 3 : 2 * size // 3] += (60 * (y == 1)).view(-1, 1, 1, 1)
    x[:, :, :, 2 * size // 3 :] += (60 * (y == 2)).view(-1, 1, 1, 1)
    return ImageSet(x.to(torch.uint8), {"fine": y}, {"fine": ["a", "b", "c"]}, "toy", "train")


def net():
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.AdaptiveAvgPool2d(2),
                         nn.Flatten(), nn.Dropout(0.2), nn.Linear(32, 3))


class CountingCallback(Callback):
    "Has state that must survive a resume."
    def __init__(self):
        self.seen = 0
    def on_epoch_end(self, trainer, epoch, metrics):
        self.seen += 1
    def state_dict(self):
        return {"seen": self.seen}
    def load_state_dict(self, state):
        self.seen = state["seen"]


@pytest.mark.parametrize("precision,schedule", [("fp32", "plateau"), ("auto", "exp")])
def test_resume_equals_uninterrupted(tmp_path, precision, schedule):
    cfg = TrainConfig(epochs=5, batch_size=32, lr=0.05, schedule=schedule, gamma=0.9, patience=0, seed=3,
                      precision=precision, augment="crop_flip", progress=False, checkpoint_every=1)
    data, val = toy_set(), toy_set(64, seed=1)

    torch.manual_seed(0)
    cb_a = CountingCallback()
    straight = Trainer(net(), data, cfg, val_data=val, callbacks=[cb_a], run_dir=tmp_path / "a")
    straight.fit()

    torch.manual_seed(0)                       # same initial weights as the straight run
    first = Trainer(net(), data, TrainConfig(**{**cfg.__dict__, "epochs": 2}), val_data=val,
                    callbacks=[CountingCallback()], run_dir=tmp_path / "b")
    first.fit()
    # train more epochs in a completely new trainer with a different init, resuming from disk
    torch.manual_seed(1234)
    cb_b = CountingCallback()
    resumed = Trainer(net(), data, cfg, val_data=val, callbacks=[cb_b], run_dir=tmp_path / "b")
    resumed.fit(resume=True)

    assert resumed.epoch == straight.epoch == 5 and cb_b.seen == cb_a.seen == 5
    for (name, a), b in zip(straight.model.state_dict().items(), resumed.model.state_dict().values()):
        assert torch.equal(a, b), f"{name} differs after resume"
    assert [h["train_loss"] for h in straight.history] == [h["train_loss"] for h in resumed.history]
    assert [h["lr"] for h in straight.history] == [h["lr"] for h in resumed.history]


def test_checkpoints_load_weights_only_and_hold_everything(tmp_path):
    t = Trainer(net(), toy_set(), TrainConfig(epochs=1, batch_size=64, progress=False), run_dir=tmp_path)
    t.fit()
    state = torch.load(tmp_path / "checkpoints" / "last.pt", weights_only=True)
    assert {"model", "optimizer", "scheduler", "epoch", "rng", "config", "history"} <= set(state)
    assert state["epoch"] == 1 and state["config"]["batch_size"] == 64


def test_missing_and_corrupt_checkpoint_errors(tmp_path):
    t = Trainer(net(), toy_set(), TrainConfig(epochs=1, progress=False), run_dir=tmp_path)
    with pytest.raises(FileNotFoundError, match="no checkpoint at"):
        t.fit(resume=tmp_path / "nope.pt")
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"\x00" * 100)
    with pytest.raises(ValueError, match="bad.pt"):
        t.load_checkpoint(bad)


def test_bad_config_and_freeze_pattern():
    with pytest.raises(ValueError, match="optimizer"):
        TrainConfig(optimizer="rmsprop")
    with pytest.raises(ValueError, match="no_such_layer"):
        Trainer(net(), toy_set(), TrainConfig(freeze=("no_such_layer.*",), progress=False))


def test_frozen_batchnorm_statistics_do_not_move(tmp_path):
    model = net()
    t = Trainer(model, toy_set(), TrainConfig(epochs=1, batch_size=32, freeze=("0.*", "1.*"), progress=False),
                run_dir=tmp_path)
    before = model[1].running_mean.clone(), model[0].weight.detach().clone()
    t.fit()
    assert torch.equal(model[1].running_mean, before[0]) and torch.equal(model[0].weight, before[1])
    assert not torch.equal(model[6].weight, torch.zeros_like(model[6].weight))


KILLED_WRITER = textwrap.dedent("""
    import sys, torch
    from neuronb.core import atomic_torch_save
    path = sys.argv[1]
    big = {"w": torch.randn(4_000_000), "epoch": 0}
    i = 0
    while True:
        big["epoch"] = i
        atomic_torch_save(big, path)
        print(i, flush=True)
        i += 1
""")


def test_checkpoint_survives_a_killed_writer(tmp_path):
    "SIGKILL while checkpoints are being written: the checkpoint on disk always loads."
    target = tmp_path / "last.pt"
    script = tmp_path / "writer.py"
    script.write_text(KILLED_WRITER)
    for delay in (0.4, 0.9, 1.3):
        proc = subprocess.Popen([sys.executable, str(script), str(target)], stdout=subprocess.PIPE, text=True)
        assert proc.stdout.readline().strip() == "0"   # at least one complete write
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        state = torch.load(target, weights_only=True)
        assert state["w"].numel() == 4_000_000 and isinstance(state["epoch"], int)
