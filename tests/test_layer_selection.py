"The score command chooses each region's layer on stimuli it does not report: no profit from chance fluctuations."
import numpy as np
import xarray as xr

from neuronb.analysis.predictivity import scores_from_features
from neuronb.experiments.scoring import ScoreConfig, commit_layers, selection_split

N_STIMULI, N_OBJECTS, N_NEUROIDS, N_REPS, N_LAYERS, WIDTH = 160, 8, 16, 4, 6, 24


def equally_good_layers(seed: int) -> tuple[dict, xr.Dataset]:
    "`N_LAYERS` layers, each the same latent features plus noise of the same size: all equally predictive."
    rng = np.random.default_rng(seed)
    latent = rng.normal(size=(N_STIMULI, WIDTH))
    clean = latent @ rng.normal(size=(WIDTH, N_NEUROIDS)) / np.sqrt(WIDTH)
    responses = clean[:, :, None] + rng.normal(scale=1.0, size=(N_STIMULI, N_NEUROIDS, N_REPS))
    layers = {f"layer{k}": latent + rng.normal(scale=1.0, size=latent.shape) for k in range(N_LAYERS)}
    data = xr.Dataset({"responses": (("stimulus", "neuroid", "repetition"), responses)},
                      coords={"region": ("neuroid", ["IT"] * N_NEUROIDS),
                              "object_name": ("stimulus", [f"o{i % N_OBJECTS}" for i in range(N_STIMULI)]),
                              "stimulus_id": ("stimulus", [f"s{i:03d}" for i in range(N_STIMULI)])})
    return layers, data


def report_scores(layers: dict, data: xr.Dataset, report: np.ndarray) -> dict[str, float]:
    table = scores_from_features({name: f[report] for name, f in layers.items()}, data.isel(stimulus=report),
                                 mode="brainscore", n_bootstrap=0)
    return dict(zip(table.layer, table.raw))


def test_selection_never_sees_the_reported_stimuli():
    layers, data = equally_good_layers(0)
    config = ScoreConfig(n_bootstrap=0)
    select, report = selection_split(data, 0.5, seed=0)
    assert len(np.intersect1d(select, report)) == 0 and len(select) + len(report) == N_STIMULI
    chosen, table = commit_layers(layers, data, select, config)
    scrambled = data.copy(deep=True)            # the reported stimuli's responses replaced by another order of them
    values = scrambled["responses"].values
    values[report] = values[np.random.default_rng(1).permutation(report)]
    rechosen, retable = commit_layers(layers, scrambled, select, config)
    assert rechosen == chosen and np.array_equal(retable["raw"].values, table["raw"].values)


def test_held_out_choice_is_unbiased_where_choosing_on_the_reported_split_is_not():
    "Over seeds: the committed layer's reported score is the average layer's; the best layer on the report split beats it."
    config, held_out_gain, in_sample_gain = ScoreConfig(n_bootstrap=0), [], []
    for seed in range(6):
        layers, data = equally_good_layers(seed)
        select, report = selection_split(data, 0.5, seed=seed)
        chosen = commit_layers(layers, data, select, config)[0]["IT"]
        reported = report_scores(layers, data, report)
        average = np.mean(list(reported.values()))
        held_out_gain.append(reported[chosen] - average)
        in_sample_gain.append(max(reported.values()) - average)    # choosing where you report: the max of noise
    spread = np.std(held_out_gain) / np.sqrt(len(held_out_gain))
    assert abs(np.mean(held_out_gain)) < 3 * spread + 1e-3, held_out_gain
    assert np.mean(in_sample_gain) > np.mean(held_out_gain) + 2 * spread and min(in_sample_gain) > 0, in_sample_gain
