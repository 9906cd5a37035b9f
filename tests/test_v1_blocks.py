"V1-constraint building blocks against their formulas, the model variants, fine-tune freezing and the `neuronb v1` CLI."
import json
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from neuronb.nn.center_surround import DoGConv2d, DoGLayer, dog_kernel, dog_kernel_as_coded
from neuronb.nn.gabor import GaborBank, sample_gabor_params
from neuronb.nn.local import LocallyConnected2d
from neuronb.nn.normalization import DivisiveNormalization, TunedNormalization, channel_distance
from neuronb.nn.polar import PolarTransform, polar_bins


@pytest.fixture
def one_thread():
    "Tiny models run fastest on one thread; two contend badly with whatever else the machine runs."
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_dog_kernel_matches_formula_and_layer():
    k = dog_kernel(9, 1.2, 2.5, -0.7)[0]
    d2 = torch.tensor(2.0 ** 2 + 1.0 ** 2)
    gauss = lambda s: torch.exp(-d2 / (2 * s * s)) / (2 * math.pi * s * s)
    assert torch.isclose(k[4 + 1, 4 + 2], -0.7 * (gauss(1.2) - gauss(2.5)))
    assert abs(dog_kernel(81, 2.0, 5.0)[0].sum()) < 1e-4             # balanced centre and surround
    assert (dog_kernel_as_coded(21, 1.0, 3.0) <= 0).all()             # the original's formula: one sign
    layer = DoGConv2d(2, 3, radius=2, generator=torch.Generator().manual_seed(0))
    x = torch.randn(2, 2, 8, 8, requires_grad=True)
    ref = F.conv2d(x, dog_kernel(5, layer.sigma_center.flatten(), layer.sigma_surround.flatten(),
                                 layer.amplitude.flatten()).view(3, 2, 5, 5), padding=2)
    out = layer(x)
    assert torch.allclose(out, ref, atol=1e-6)
    out.sum().backward()
    assert layer.raw_surround_ratio.grad.abs().sum() > 0 and x.grad.abs().sum() > 0
    assert (layer.sigma_surround >= layer.sigma_center).all()
    wrapped = DoGLayer(6, 2)
    y = torch.randn(1, 6, 7, 7)
    assert torch.equal(wrapped(y)[:, 2:], y[:, 2:])


def test_locally_connected_loop_and_tied_conv():
    torch.manual_seed(0)
    layer = LocallyConnected2d(2, 2, input_size=4, kernel_size=3, padding=1, max_elements=50)
    x = torch.randn(3, 2, 4, 4)
    padded = F.pad(x, (1, 1, 1, 1))
    w = layer.weight.view(4, 4, 2, 2, 3, 3)
    loop = torch.stack([torch.stack([torch.einsum("ncij,ocij->no", padded[:, :, i:i + 3, j:j + 3], w[i, j])
                                     for j in range(4)], -1) for i in range(4)], -2)
    assert torch.allclose(layer(x), loop, atol=1e-5)
    conv = nn.Conv2d(3, 4, 3, stride=2, padding=1)
    tied = LocallyConnected2d.from_conv2d(conv, 10)
    z = torch.randn(2, 3, 10, 10)
    assert torch.allclose(tied(z), conv(z), atol=1e-5)
    with pytest.raises(ValueError, match="expected input"):
        tied(torch.randn(1, 3, 8, 8))


def test_divisive_and_tuned_normalization_formulas():
    norm = DivisiveNormalization(3, 3, generator=torch.Generator().manual_seed(1))
    x = torch.rand(2, 3, 5, 5)
    pool = F.conv2d(x, norm.pools(), padding=1)
    assert torch.allclose(norm(x), x / (pool + norm.bias.abs().view(1, -1, 1, 1)))
    g = norm.pools()[2, 1]
    assert (g >= 0).all()
    tuned = TunedNormalization(6, "tuned", generator=torch.Generator().manual_seed(0))
    W = tuned.weights()
    sigma = tuned.sigma.clamp_min(0.5)
    d = channel_distance(6, "tuned")
    raw = torch.exp(-d ** 2 / (2 * sigma.view(1, -1) ** 2))
    assert torch.allclose(W, raw / raw.sum(0, keepdim=True), atol=1e-6)
    assert torch.allclose(tuned(x.repeat(1, 2, 1, 1)), x.repeat(1, 2, 1, 1) / (torch.einsum("oc,nchw->nohw", W, x.repeat(1, 2, 1, 1)) + 1))
    assert channel_distance(6, "opponent")[0].tolist() == [3, 2, 1, 0, 1, 2]


def test_polar_transform_known_rings():
    edges = [0, 2, 4, 6, 8, 12]
    index = polar_bins(16, 16, edges, torch.linspace(0, 2 * math.pi, 9).tolist())
    ring_image = torch.where(index >= 0, index // 8, 0).float().view(16, 16)
    polar = PolarTransform(16, (5, 8), radius_bins=edges, angle_bins=8)
    assert torch.allclose(polar.polar_map(ring_image[None, None])[0, 0], torch.arange(5.0).view(-1, 1).expand(5, 8), atol=1e-5)
    out = polar(torch.randn(2, 3, 16, 16, requires_grad=True))
    assert out.shape == (2, 3, 5, 8)


def test_gabor_priors_and_complex_cells():
    draw = sample_gabor_params(3000, pixels_per_degree=8.0, generator=torch.Generator().manual_seed(0))
    assert draw["frequency"].max() <= 0.5 and draw["sf_cpd"].min() >= 0.5 - 1e-5
    assert torch.allclose(draw["sigma_x"] * draw["frequency"], draw["nx"], rtol=1e-4)
    bank = GaborBank(1, 0, 32, kernel_size=21, stride=1, pixels_per_degree=8.0, seed=0)
    sigma_x, sigma_y, freq_all = bank.log_sigma_x.exp(), bank.log_sigma_y.exp(), bank.log_frequency.exp()
    # a unit whose envelope holds >= 0.5 cycles (no DC leak) and fits in the kernel (no truncation)
    fits = (sigma_x * freq_all >= 0.5) & (torch.maximum(sigma_x, sigma_y) < 21 / 6)
    unit = int(fits.nonzero()[0])
    theta, freq = float(bank.theta[unit]), float(freq_all[unit])
    axis = torch.arange(31.0) - 15
    yy, xx = torch.meshgrid(axis, axis, indexing="ij")
    gratings = torch.stack([torch.cos(2 * math.pi * freq * (xx * math.cos(theta) + yy * math.sin(theta)) + p)
                            for p in torch.linspace(0, 2 * math.pi, 9)[:-1]])[:, None]
    resp = bank(gratings)[:, unit, 15, 15]
    assert resp.std() / resp.mean() < 0.05


def test_v1_models_flags_and_no_shared_state(one_thread):
    from neuronb.models import create
    from neuronb.nn.polar import PolarTransform
    a = create("v1_resnet50_a", num_classes=7, width=0.0625)
    assert isinstance(a.maxpool, PolarTransform) and isinstance(a.layer1[2].conv2, LocallyConnected2d)
    assert isinstance(a.layer1[0].normalization, TunedNormalization)
    plain = create("v1_resnet50", num_classes=7, width=0.0625)
    assert isinstance(plain.maxpool, nn.MaxPool2d) and isinstance(plain.layer1[0].normalization, nn.Identity)
    assert a(torch.randn(2, 3, 64, 64)).shape == (2, 7)


def test_cli_train_finetune_robustness(isolated, one_thread):
    from neuronb.cli import main
    from neuronb.experiments.protocol import load_run
    tiny = ["--preset", "tiny", "--set", "model_kw={width: 0.0625}", "--set", "dataset_kw={image_size: 64, n_per_class: 3}",
            "--set", "train.batch_size=32", "--epochs", "1", "--store", str(isolated / "s.sqlite")]
    source, tuned = isolated / "cm", isolated / "cm-ft"
    assert main(["v1", "train", "--model", "v1_resnet50_cortical_magnification", "--run-dir", str(source), *tiny]) == 0
    assert main(["v1", "train", "--finetune-from", str(source), "--set", "label=fine", "--set", "train.lr=1.0",
                 "--run-dir", str(tuned), *tiny]) == 0
    before, after = load_run(source).model, load_run(tuned)
    assert after.protocol == "v1.train" and after.config.model == "v1_resnet50_cortical_magnification"
    assert after.model.fc.out_features == 20 and after.result["test_acc"] >= 0
    state = after.model.state_dict()
    assert all(torch.equal(state[k], v) for k, v in before.state_dict().items() if not k.startswith("fc."))
    assert main(["v1", "robustness", "--run-dir", str(tuned), "--corruptions", "gaussian_noise", "--severities", "1",
                 "--preset", "tiny", "--store", str(isolated / "s.sqlite")]) == 0
    csv = (tuned / "tinyimagenetc_results.csv").read_text().splitlines()
    assert csv[0] == "corruption_type,difficulty,valid_acc" and csv[1].startswith("gaussian_noise,1,")
    assert load_run(tuned / "robustness", model=False).protocol == "v1.robustness"
    assert main(["v1", "properties", "--run-dir", str(source), "--preset", "tiny", "--store", str(isolated / "s.sqlite")]) == 0
    scores = (source / "v1_scores.csv").read_text()
    assert "preferred_orientation" in scores and "unavailable" in scores
    assert main(["v1", "robustness", "--preset", "tiny"]) == 2          # no trained run named: one line, exit 2


def test_example_sweep_spec_runs_at_tiny_size(isolated, one_thread):
    "examples/v1.yaml expands to its grid x seeds; at the tiny preset (and tinier data) every run finishes and is recorded."
    from dataclasses import replace
    from pathlib import Path
    from neuronb.experiments.protocol import load_run
    from neuronb.experiments.runs import expand_spec, load_spec, read_sweep, run_inline
    spec = load_spec(Path(__file__).resolve().parents[1] / "examples" / "v1.yaml")
    assert spec.protocol == "v1.train" and spec.preset == "quick"
    quick = expand_spec(spec)
    assert len(quick) == 4 and {r.config["model_kw"]["width"] for r in quick} == {0.125}
    assert {(r.params["model"], r.params["seed"]) for r in quick} == {(m, s) for m in spec.grid["model"] for s in (0, 1)}
    spec = replace(spec, preset="tiny", root=str(isolated / "sweep"), store=str(isolated / "sweep.sqlite"),
                   base={"model_kw": {"width": 0.0625}, "dataset_kw": {"image_size": 64, "n_per_class": 3},
                         "train": {"batch_size": 32}})
    runs = expand_spec(spec)
    assert [r.params for r in runs] == [r.params for r in quick] and all(r.config["train"]["epochs"] == 1 for r in runs)
    table = run_inline(spec)
    assert list(table.status) == ["finished"] * 4 and table.test_acc.between(0, 1).all()
    assert table.train_seconds.gt(0).all()
    assert read_sweep(spec).run_id.tolist() == table.run_id.tolist()       # recorded in the store
    loaded = load_run(table.run_dir[1])
    assert loaded.config.seed == table.seed[1] and loaded.result["test_acc"] == table.test_acc[1]
