"Texture stimuli, Freeman & Ziemba (2013) texture properties, user reference data, and `neuronb v1 properties` with them."
import json
import math

import numpy as np
import pytest
import torch
from torch import nn

from conftest import run_cli
from neuronb.analysis.textures import (PHOTO_TEXTURE_FAMILIES, TextureStimuli, measure_texture_properties,
                                       periodic_component, phase_randomized, photo_textures, read_texture_stimuli,
                                       texture_properties)
from neuronb.analysis.v1_properties import (VisualField, property_specs, read_user_references, v1_property_scores,
                                            v1_score)
from neuronb.nn.gabor import gabor_kernel

TEXTURE_PROPERTIES = ["texture_modulation_index", "abs_texture_modulation_index", "texture_selectivity",
                      "texture_sparseness", "texture_variance_ratio", "max_texture", "max_noise"]
FIELD = VisualField(64, 8.0, channels=1)


def test_phase_randomization_keeps_amplitude_spectrum_and_mean():
    images = periodic_component(torch.rand(3, 40, 40, generator=torch.Generator().manual_seed(0)) ** 3)
    noise = phase_randomized(images, torch.Generator().manual_seed(5))
    assert torch.allclose(torch.fft.fft2(noise.double()).abs(), torch.fft.fft2(images.double()).abs(), atol=1e-6)
    assert torch.allclose(noise.mean((-2, -1)), images.mean((-2, -1)), atol=1e-6)
    assert torch.equal(noise, phase_randomized(images, torch.Generator().manual_seed(5)))
    assert not torch.allclose(noise, phase_randomized(images, torch.Generator().manual_seed(6)))
    # skewed images (cubed uniform) become symmetric: the higher-order statistics are gone
    skew = lambda x: (((x - x.mean()) / x.std()) ** 3).mean()      # noqa: E731
    assert skew(images) > 0.5 and abs(skew(noise)) < skew(images) / 2


def test_photo_textures_are_deterministic_and_checked():
    first = photo_textures(FIELD, n_samples=2, families=["brick", "gravel"], seed=3)
    again = photo_textures(FIELD, n_samples=2, families=["brick", "gravel"], seed=3)
    assert first.textures.shape == (2, 2, 64, 64) and torch.equal(first.noise, again.noise)
    assert not torch.equal(first.textures, photo_textures(FIELD, 2, ["brick", "gravel"], seed=4).textures)
    assert 0 <= first.noise.min() and first.noise.max() <= 1 and len(PHOTO_TEXTURE_FAMILIES) >= 10
    with pytest.raises(ValueError, match="unknown families"):
        photo_textures(FIELD, families=["marble"])
    with pytest.raises(ValueError, match="n_samples"):
        photo_textures(FIELD, n_samples=1)


def test_user_stimuli_from_npz(tmp_path):
    stimuli = photo_textures(FIELD, n_samples=2, families=["grass", "petals", "coins"], seed=0)
    path = tmp_path / "stimuli.npz"
    np.savez(path, textures=(stimuli.textures.numpy() * 255).round().astype(np.uint8), noise=stimuli.noise.numpy(),
             families=np.array(stimuli.families))
    back = read_texture_stimuli(path, FIELD)
    assert back.families == stimuli.families and torch.allclose(back.textures, stimuli.textures, atol=0.5 / 255 + 1e-6)
    np.savez(tmp_path / "partial.npz", textures=stimuli.textures.numpy())
    with pytest.raises(ValueError, match="partial.npz.*noise"):
        read_texture_stimuli(tmp_path / "partial.npz", FIELD)
    with pytest.raises(ValueError, match="small.npz.*field is 64"):
        np.savez(tmp_path / "small.npz", textures=stimuli.textures.numpy()[..., :32, :32],
                 noise=stimuli.noise.numpy()[..., :32, :32])
        read_texture_stimuli(tmp_path / "small.npz", FIELD)
    with pytest.raises(FileNotFoundError, match="nothing.npz"):
        read_texture_stimuli(tmp_path / "nothing.npz", FIELD)
    with pytest.raises(ValueError, match="kind"):
        stimuli.present("grating")


def test_texture_property_calculators_known_answers():
    rng = np.random.default_rng(1)
    base = rng.uniform(2, 30, (5, 4, 1))
    family_only = np.repeat(np.arange(1.0, 6.0)[:, None, None] * 4, 4, 1)
    texture = np.concatenate([3 * base, base, family_only], 2)
    noise = np.concatenate([base, base, family_only], 2)
    props = texture_properties(texture, noise)
    assert props["texture_modulation_index"][:2] == pytest.approx([0.5, 0.0])
    assert props["abs_texture_modulation_index"][0] == pytest.approx(0.5)
    assert props["texture_variance_ratio"][2] == pytest.approx(1e6)          # no variance within families: capped
    means = family_only[:, 0, 0]
    expected = (1 - means.mean() ** 2 / (means ** 2).mean()) / (1 - 1 / 5)
    assert props["texture_sparseness"][2] == pytest.approx(expected)
    assert props["texture_selectivity"][2] == pytest.approx((20 - 4) / (20 + 4))
    assert props["max_noise"][0] == pytest.approx(base.max())
    with pytest.raises(ValueError, match="families, samples, units"):
        texture_properties(texture[0], noise[0])


class EnergyAndEdge(nn.Module):
    "A quadrature energy unit and a thresholded edge unit, summed over space (circular convolution)."
    def __init__(self):
        super().__init__()
        even = gabor_kernel(15, 1.2, 0.15, 2.5, 2.5)
        odd = gabor_kernel(15, 1.2, 0.15, 2.5, 2.5, phase=math.pi / 2)
        self.filters = nn.Conv2d(1, 2, 15, padding=7, padding_mode="circular", bias=False)
        self.filters.weight.data = torch.cat([even - even.mean(), odd - odd.mean()])[:, None]
        self.threshold, self.gain = 0.0, torch.ones(2)
        self.out = nn.Identity()

    def forward(self, x):
        z = self.filters(x - 0.5)
        units = torch.cat([(z ** 2).sum(1, keepdim=True), torch.relu(z[:, :1].abs() - self.threshold)], 1)
        return self.out(units.sum((2, 3), keepdim=True) * self.gain.view(1, -1, 1, 1))


def test_energy_unit_is_blind_to_phase_and_edge_unit_prefers_textures():
    stimuli = photo_textures(FIELD, n_samples=3, seed=2, aperture_deg=None)
    model = EnergyAndEdge()
    with torch.no_grad():
        model.threshold = float(3 * model.filters(stimuli.present("noise") - 0.5)[:, 0].std())
        model.gain = 1 / model(torch.cat([stimuli.present("texture"), stimuli.present("noise")])).amax((0, 2, 3))
    table, measured = measure_texture_properties(model, "out", stimuli, device="cpu", rf_tolerance_deg=8)
    by_unit = table.set_index("channel")
    assert abs(by_unit.loc[0, "texture_modulation_index"]) < 0.03
    assert by_unit.loc[1, "texture_modulation_index"] > 0.15
    assert measured.textures.shape == (10, 3, 2) and measured.blank.tolist() == [0.0, 0.0]


def test_user_texture_data_round_trip_scores_near_one(tmp_path):
    rng = np.random.default_rng(0)
    table = {name: rng.gamma(2.0, 0.1, 150) for name in TEXTURE_PROPERTIES}
    table["texture_modulation_index"] = rng.normal(0.05, 0.2, 150)
    import pandas as pd
    model_values = pd.DataFrame(table)
    plain = v1_property_scores(model_values, n_bootstrap=30).set_index("property")
    assert (plain.loc[TEXTURE_PROPERTIES, "status"] == "unavailable").all()
    np.savez(tmp_path / "cells.npz", **{name: model_values[name].to_numpy() for name in TEXTURE_PROPERTIES})
    scores = v1_property_scores(model_values, read_user_references(tmp_path / "cells.npz"), n_bootstrap=100)
    scored = scores.set_index("property").loc[TEXTURE_PROPERTIES]
    assert (scored.status == "ok").all() and (scored.score > 0.85).all(), scored
    assert set(v1_score(scores)["groups"]) >= {"texture", "response"}
    specs = property_specs()
    assert {specs[name].group for name in TEXTURE_PROPERTIES} == {"texture", "response"}


def test_cli_properties_include_textures_and_user_data(isolated):
    from neuronb.experiments.protocol import run
    run_dir = isolated / "run"
    run("v1.train", preset="tiny", model_kw={"width": 0.0625}, dataset_kw={"image_size": 64, "n_per_class": 4},
        train={"epochs": 1, "batch_size": 32}, run_dir=run_dir)
    with pytest.raises(FileNotFoundError, match="none.json"):
        run("v1.properties", preset="tiny", source_run=str(run_dir), user_data=str(isolated / "none.json"))
    cells = isolated / "cells.json"
    cells.write_text(json.dumps({"texture_modulation_index": np.linspace(-0.3, 0.5, 40).tolist()}))
    # the user's own stimuli (here: 3 photo families, 3 samples, as an NPZ) replace the offline ones
    own = photo_textures(VisualField(64, 8.0), n_samples=3, families=["brick", "grass", "petals"], seed=9)
    np.savez(isolated / "stimuli.npz", textures=own.textures.numpy(), noise=own.noise.numpy(), families=np.array(own.families))
    # a second reference file, as Brain-Score ships it: a V1 property assembly (neuroid x neuronal_property)
    from neuronb.data.brainio import write_property_assembly
    freeman = write_property_assembly(isolated / "assy_FreemanZiemba2013_properties.nc",
                                      np.linspace(0.05, 0.9, 30)[:, None], ["texture_sparseness"])
    out = run_cli("v1", "properties", "--run-dir", run_dir, "--user-data", cells, freeman, "--store", isolated / "s.sqlite",
                  "--texture-stimuli", isolated / "stimuli.npz", "--preset", "tiny", "--set", "n_bootstrap=20",
                  "--set", "texture_samples=2")
    assert out.returncode == 0, out.stderr
    rows = {line.split()[0]: line.split() for line in out.stdout.splitlines() if line.strip()}
    assert rows["texture_modulation_index"][-1] == "ok" and 0 <= float(rows["texture_modulation_index"][-2]) <= 1
    assert rows["texture_sparseness"][-1] == "ok" and rows["max_noise"][-1] == "unavailable"
    import pandas as pd
    units = pd.read_csv(run_dir / "v1_properties.csv")
    assert units.channel.is_unique and units.texture_modulation_index.notna().sum() >= 3
