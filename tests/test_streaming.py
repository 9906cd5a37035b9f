"""The streaming path (files decoded in DataLoader workers) trains exactly like the in-memory fast path, and is
chosen by size: an image folder larger than the memory limit trains without ever being decoded whole."""
import json

import pytest
import torch
from torch import nn

from neuronb.data import get_dataset
from neuronb.data.core import FileImageDataset, decoded_nbytes
from neuronb.data.formats import write_image_folder
from neuronb.train import Trainer, TrainConfig


def test_streaming_equals_in_memory(tmp_path):
    digits = get_dataset("digits", "test")
    write_image_folder(digits.subset(torch.arange(96)), tmp_path / "train", ext="png")
    streamed = get_dataset("imagefolder", "train", root=tmp_path)            # FileImageDataset
    in_memory = get_dataset("imagefolder", "train", root=tmp_path, in_memory=True)
    assert isinstance(streamed, torch.utils.data.Dataset) and not hasattr(streamed, "batches")
    assert len(streamed) == len(in_memory) == 96

    def train(data, workers):
        torch.manual_seed(0)
        model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 10))
        t = Trainer(model, data, TrainConfig(epochs=2, batch_size=32, precision="fp32", progress=False, seed=1),
                    run_dir=tmp_path / f"run{workers}", num_workers=workers)
        t.fit()
        return model

    a, b = train(streamed, 2), train(in_memory, 0)
    for x, y in zip(a.state_dict().values(), b.state_dict().values()):
        assert torch.equal(x, y)


def test_split_off_over_files_holds_out_what_the_imageset_does(tmp_path):
    digits = get_dataset("digits", "test").subset(torch.arange(60))
    write_image_folder(digits, tmp_path / "train", ext="png")
    files = get_dataset("imagefolder", "train", root=tmp_path)
    memory = files.to_imageset()
    for stratify in ("fine", None):
        rest, held = files.split_off(0.2, seed=4, stratify=stratify)
        mem_rest, mem_held = memory.split_off(0.2, seed=4, stratify=stratify)
        assert isinstance(rest, FileImageDataset) and isinstance(held, FileImageDataset)
        assert torch.equal(held.to_imageset().images, mem_held.images)
        assert torch.equal(rest.labels["fine"], mem_rest.labels["fine"]) and held.split == "train-heldout"
    assert files.num_classes("fine") == memory.num_classes("fine") == len(files.classes["fine"])
    assert torch.equal(files.subset([7, 3]).to_imageset().images, memory.subset([7, 3]).images)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    "An ImageNet-style train/test folder tree of 32 px PNGs (digits)."
    root = tmp_path_factory.mktemp("imagefolder")
    digits = get_dataset("digits", "test")
    write_image_folder(digits.subset(torch.arange(120)), root / "train", ext="png")
    write_image_folder(digits.subset(torch.arange(120, 180)), root / "test", ext="png")
    return root


def _train_cli(folder, run_dir, capsys, *settings):
    from neuronb.cli import main
    rc = main(["train", "--preset", "tiny", "--model", "resnet18_cifar", "--dataset", "imagefolder", "--epochs", "2",
               "--batch-size", "32", "--precision", "fp32", "--set", f"root={folder}", "--set", "model_kw.width=0.125",
               "--set", "train.progress=false", "--run-dir", str(run_dir), *sum((["--set", s] for s in settings), [])])
    out = capsys.readouterr()
    assert rc == 0, out.err
    return json.loads(out.out)


def test_folder_larger_than_the_limit_trains_streaming(folder, isolated, monkeypatch, capsys):
    from neuronb.experiments.protocol import load_run, load_state
    from neuronb.store import RunStore
    limit_gb = 1e-5
    assert decoded_nbytes(get_dataset("imagefolder", "train", root=folder)) > limit_gb * 1e9
    decoded_log = isolated / "decoded.txt"            # the DataLoader's worker processes append here too
    read_item = FileImageDataset.__getitem__

    def counting(self, i):
        with open(decoded_log, "a") as log:
            log.write(f"{i}\n")
        return read_item(self, i)

    def never(self):
        raise AssertionError(f"{self.name}/{self.split} was loaded whole")

    with monkeypatch.context() as m:
        m.setattr(FileImageDataset, "to_imageset", never)
        m.setattr(FileImageDataset, "__getitem__", counting)
        streamed = _train_cli(folder, isolated / "streamed", capsys, f"memory_limit_gb={limit_gb}")
    decoded = decoded_log.read_text().split()
    assert len(decoded) >= 2 * 120 + 60                 # two epochs of train and val files, then the test files
    memory = _train_cli(folder, isolated / "memory", capsys, "in_memory=true")
    assert streamed["test"] == memory["test"] and streamed["epochs"] == memory["epochs"] == 2
    a, b = (load_state(load_run(isolated / name, model=False).folder.last_checkpoint()) for name in ("streamed", "memory"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert (isolated / "streamed" / "result.json").is_file()
    runs = RunStore().runs()
    assert len(runs) == 2 and set(runs["status"]) == {"finished"}


def test_bench_data_prints_loader_and_step_side_by_side():
    """`neuronb bench data --quick`: the streaming loader's images/s with each JPEG decoder beside the training step's,
    their ratio and which one is the bottleneck."""
    import re
    from neuronb.bench import DATA_BENCH_QUICK, bench_data
    printed = []
    result = bench_data(quick=True, log=printed.append)
    table = printed[-6:]
    assert table[0].startswith(f"data path against the training step, {DATA_BENCH_QUICK['size']} px, batch 16")
    assert re.fullmatch(r"  48 JPEG files of 72 px \(\d+ KB on average\) read at 64 px by 1 worker", table[1]), table[1]
    rates = {}
    for line, decoder in zip(table[2:4], ("pil", "torchvision")):
        found = re.fullmatch(rf"  streaming loader, {decoder} decoder: +([\d.]+) images/s", line)
        assert found, line
        rates[decoder] = float(found.group(1))
    step = re.fullmatch(r"  training step, resnet50 width 0.125: +([\d.]+) images/s +\((bf16|fp32), (channels_last|NCHW)\)",
                        table[4])
    assert step, table[4]
    assert min(result.loaders.values()) > 0 and result.step_images_per_s > 0
    assert rates == pytest.approx(result.loaders, abs=0.06)
    assert float(step.group(1)) == pytest.approx(result.step_images_per_s, abs=0.06)
    ratio = re.fullmatch(r"  loader \((pil|torchvision)\) / step: ([\d.]+) +the (loader|model) is the bottleneck.*", table[5])
    assert ratio and ratio.group(1) == result.decoder and ratio.group(3) == result.bottleneck
    assert float(ratio.group(2)) == pytest.approx(result.ratio, abs=0.006)
    assert result.ratio == pytest.approx(max(rates.values()) / float(step.group(1)), rel=0.05)
