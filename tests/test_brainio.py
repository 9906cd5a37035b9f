"""Brain-Score / BrainIO formats: fixture files in the exact BrainIO layout, read into neuronb's layouts.

Awkward cases: dims stored in another order, the legacy variable and `image_id` names, uneven repetitions,
NaN responses, a `time_bin` dim, a stimulus zip (and folder); round trips put every written value in its own
stimulus / neuroid / repetition cell; each reader error names the file and what is missing."""
import zipfile

import h5py
import numpy as np
import pandas as pd
import pytest
import xarray as xr

from neuronb.data.brainio import (open_assembly, read_behavioral_assembly, read_neural_assembly, read_property_assembly,
                                  read_stimulus_set, write_assembly, write_behavioral_assembly, write_neural_assembly,
                                  write_property_assembly, write_stimulus_set)


def _pictures(n, height=5, width=7, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, 3, height, width), dtype=np.uint8)


@pytest.fixture
def stimulus_set(tmp_path):
    "Twelve stimuli (ids that look like numbers), two objects, written as a BrainIO CSV + zip."
    ids = [f"{i:04d}" for i in range(12)]
    images = _pictures(12)
    csv_path, zip_path = write_stimulus_set(tmp_path / "stimulus_test_Twelve.csv", images, ids,
                                            {"object_name": ["cup", "dog"] * 6, "category_name": ["a", "b"] * 6})
    return ids, images, csv_path, zip_path


def test_uneven_repetitions_nan_and_dim_order_round_trip(tmp_path):
    rng = np.random.default_rng(1)
    stimulus_of_row = ["s2", "s1", "s2", "s3", "s2", "s1"]
    repetition_of_row = [2, 0, 0, 0, 1, 1]
    values = rng.normal(size=(6, 4)).astype(np.float32)
    values[3, 2] = np.nan
    path = write_neural_assembly(tmp_path / "assy_test_Uneven.nc", values, stimulus_of_row, ["V4", "V4", "IT", "IT"],
                                 repetitions=repetition_of_row, dims=("neuroid", "presentation"),
                                 neuroid_coords={"animal": ["m1", "m2", "m1", "m2"]}, stimulus_set_identifier="test.Set")
    assert open_assembly(path).dims == ("neuroid", "presentation")
    data = read_neural_assembly(path)
    assert data["responses"].dims == ("stimulus", "neuroid", "repetition") and data["responses"].dtype == np.float32
    assert data["stimulus_id"].values.tolist() == ["s2", "s1", "s3"] and data["responses"].shape == (3, 4, 3)
    for row, (stimulus, repetition) in enumerate(zip(stimulus_of_row, repetition_of_row)):
        cell = data["responses"].values[["s2", "s1", "s3"].index(stimulus), :, repetition]
        assert np.array_equal(cell, values[row], equal_nan=True)
    assert np.isnan(data["responses"].values[1, :, 2]).all() and np.isnan(data["responses"].values[2, :, 1:]).all()
    assert np.isnan(data["responses"].values[2, 2, 0])
    assert data["region"].values.tolist() == ["V4", "V4", "IT", "IT"] and data["animal"].values.tolist()[1] == "m2"
    assert data.attrs["stimulus_set_identifier"] == "test.Set" and data.attrs["source_file"] == str(path)


def test_time_bins_are_averaged_or_selected(tmp_path):
    values = np.arange(2 * 1 * 3, dtype=float).reshape(2, 1, 3)        # (presentation, neuroid, time_bin)
    values[1, 0, 2] = np.nan
    path = write_neural_assembly(tmp_path / "assy_bins.nc", values, ["a", "b"], "IT",
                                 time_bins=[(70, 120), (120, 170), (170, 220)],
                                 dims=("time_bin", "presentation", "neuroid"))
    everything = read_neural_assembly(path)
    assert everything["responses"].values[:, 0, 0].tolist() == [1.0, 3.5]           # NaN bin skipped
    assert (everything.attrs["time_bin_start"], everything.attrs["time_bin_end"]) == (70.0, 220.0)
    late = read_neural_assembly(path, time_bin=(120, 220))
    assert late["responses"].values[:, 0, 0].tolist() == [1.5, 4.0]
    with pytest.raises(ValueError, match=r"assy_bins.nc.*no time bin lies inside"):
        read_neural_assembly(path, time_bin=(0, 60))


def test_legacy_names_and_stimulus_zip(tmp_path, stimulus_set):
    ids, images, csv_path, zip_path = stimulus_set
    rows = ids[::-1] + ids                                              # two repetitions, assembly order reversed
    values = np.arange(24 * 2, dtype=float).reshape(24, 2)
    path = write_neural_assembly(tmp_path / "assy_legacy.nc", values, rows, ["IT", "IT"], legacy=True)
    with h5py.File(path) as h5:
        assert "__xarray_dataarray_variable__" in h5 and "image_id" in h5 and "data" not in h5
    data = read_neural_assembly(path, stimuli=read_stimulus_set(csv_path, zip_path))
    assert data.attrs["data_variable"] == "__xarray_dataarray_variable__"
    assert data["stimulus_id"].values.tolist() == ids[::-1]
    assert data["images"].dims == ("stimulus", "channel", "height", "width") and data["images"].dtype == np.uint8
    assert np.array_equal(data["images"].values, images[::-1])                       # PNG: exact pixels
    assert data["object_name"].values.tolist() == ["dog", "cup"] * 6                  # from the stimulus set
    assert data["responses"].values[0, 1].tolist() == [1.0, 47.0]                     # "0011": rows 0 and 23
    resized = read_neural_assembly(path, stimuli=read_stimulus_set(csv_path), image_size=(8, 9))
    assert resized["images"].shape == (12, 3, 8, 9)


def test_result_fits_the_scoring_layout(tmp_path, stimulus_set):
    from neuronb.analysis.predictivity import IMAGE_DIMS, NEURAL_DIMS, check_neural_data
    ids, _, csv_path, _ = stimulus_set
    values = np.random.default_rng(2).normal(size=(24, 3))
    path = write_neural_assembly(tmp_path / "assy_fit.nc", values, ids * 2, ["IT", "IT", "V4"])
    data = read_neural_assembly(path, stimuli=read_stimulus_set(csv_path))
    assert data["responses"].dims == NEURAL_DIMS and data["images"].dims == IMAGE_DIMS
    assert check_neural_data(data, "brainio fixture") is data


def test_load_neural_data_reads_brainio_with_its_stimulus_set(tmp_path, stimulus_set):
    "The loader the wiring scores use takes a brainio assembly too, once it is given the stimulus set."
    from neuronb.analysis.predictivity import load_neural_data
    ids, images, csv_path, _ = stimulus_set
    values = np.random.default_rng(3).normal(size=(24, 3))
    path = write_neural_assembly(tmp_path / "assy_wiring.nc", values, ids * 2, ["IT", "IT", "V4"])
    with pytest.raises(ValueError, match=r"assy_wiring.nc is a BrainIO neural assembly.*stimuli="):
        load_neural_data(path)
    data = load_neural_data(path, csv_path, image_size=(10, 14))
    assert data["images"].shape == (12, 3, 10, 14) and data["responses"].shape == (12, 3, 2)
    assert np.allclose(data["responses"].values[:, :, 1], values[12:])
    assert np.array_equal(load_neural_data(path, csv_path)["images"].values, images)


def test_file_layout_is_brainio(tmp_path):
    path = write_neural_assembly(tmp_path / "assy_layout.nc", np.ones((3, 2)), ["a", "a", "b"], ["IT", "V4"],
                                 stimulus_set_identifier="test.Layout", identifier="test.Assembly")
    with h5py.File(path) as h5:
        assert h5.attrs["stimulus_set_identifier"] == "test.Layout" and h5.attrs["identifier"] == "test.Assembly"
        assert h5["presentation"].attrs["CLASS"] == b"DIMENSION_SCALE"             # a dim without a variable
        assert set(h5["data"].attrs["coordinates"].split()) == {"stimulus_id", "repetition", "neuroid_id", "region"}
        assert h5["data"].compression == "gzip" and h5["data"].compression_opts == 1 and h5["data"].shuffle
        assert h5py.check_string_dtype(h5["stimulus_id"].dtype).length is None      # variable-length strings
        assert h5["repetition"][:].tolist() == [0, 1, 0]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]           # atomic: no temporary left


@pytest.mark.parametrize("case, fragments", [
    ("no_data_variable", ["'data' or '__xarray_dataarray_variable__'", "rates"]),
    ("no_stimulus_id", ["'stimulus_id' or 'image_id'", "'presentation'"]),
    ("no_region", ["'region'", "'neuroid'"]),
    ("bad_dims", ["'presentation'", "unexpected: ['trial']"]),
    ("no_time_bin_start", ["'time_bin_start'", "'time_bin'"]),
    ("not_netcdf", ["NetCDF-4"]),
])
def test_neural_reader_errors_name_file_and_what_is_missing(tmp_path, case, fragments):
    path = tmp_path / f"assy_{case}.nc"
    stimulus = {"stimulus_id": ("presentation", ["a", "b"])}
    region = {"region": ("neuroid", ["IT"])}
    if case == "no_data_variable":
        xr.Dataset({"rates": (("presentation",), [1.0])}).to_netcdf(path, engine="h5netcdf")
    elif case == "not_netcdf":
        path.write_text("not a netcdf file")
    else:
        dims, coords = ("presentation", "neuroid"), {**stimulus, **region}
        shape = (2, 1)
        if case == "no_stimulus_id":
            coords = region
        elif case == "no_region":
            coords = stimulus
        elif case == "bad_dims":
            dims, coords = ("trial", "neuroid"), region
        elif case == "no_time_bin_start":
            dims, shape = ("presentation", "neuroid", "time_bin"), (2, 1, 2)
        write_assembly(xr.DataArray(np.ones(shape), dims=dims, coords=coords), path)
    with pytest.raises(ValueError) as error:
        read_neural_assembly(path)
    for fragment in [path.name, *fragments]:
        assert fragment in str(error.value)


def test_missing_stimuli_and_missing_file_errors(tmp_path, stimulus_set):
    _, _, csv_path, zip_path = stimulus_set
    path = write_neural_assembly(tmp_path / "assy_extra.nc", np.ones((2, 1)), ["0001", "zz9"], "IT")
    with pytest.raises(ValueError, match=r"assy_extra.nc.*missing from the stimulus set.*stimulus_test_Twelve.csv.*zz9"):
        read_neural_assembly(path, stimuli=read_stimulus_set(csv_path, zip_path))
    with pytest.raises(FileNotFoundError, match="absent.nc"):
        read_neural_assembly(tmp_path / "absent.nc")


def test_stimulus_set_zip_folder_and_errors(tmp_path, stimulus_set):
    ids, images, csv_path, zip_path = stimulus_set
    stimuli = read_stimulus_set(csv_path)                                           # the zip beside the CSV
    assert stimuli.source == zip_path and stimuli.stimulus_ids == ids and len(stimuli) == 12
    assert stimuli.image("0003").mode == "RGB" and stimuli.metadata.loc["0003", "category_name"] == "b"
    assert np.array_equal(stimuli.images(["0005", "0000"]), images[[5, 0]])
    with zipfile.ZipFile(zip_path) as archive:
        archive.extractall(tmp_path / "images")
    assert np.array_equal(read_stimulus_set(csv_path, tmp_path / "images").images(["0007"]), images[[7]])
    table = pd.read_csv(csv_path, dtype=str)
    table.rename(columns={"stimulus_id": "image_id"}).to_csv(tmp_path / "legacy.csv", index=False)
    assert read_stimulus_set(tmp_path / "legacy.csv", zip_path).stimulus_ids == ids
    table.drop(columns="filename").to_csv(tmp_path / "no_filename.csv", index=False)
    with pytest.raises(ValueError, match=r"no_filename.csv.*'filename'"):
        read_stimulus_set(tmp_path / "no_filename.csv", zip_path)
    pd.concat([table, table.iloc[:1]]).to_csv(tmp_path / "twice.csv", index=False)
    with pytest.raises(ValueError, match=r"twice.csv.*more than once.*0000"):
        read_stimulus_set(tmp_path / "twice.csv", zip_path)
    table.assign(filename=table.filename.str.replace("0004.png", "lost.png")).to_csv(tmp_path / "lost.csv", index=False)
    with pytest.raises(ValueError, match=r"stimulus_test_Twelve.zip.*lost.csv.*lost.png"):
        read_stimulus_set(tmp_path / "lost.csv", zip_path)
    with pytest.raises(ValueError, match=r"stimulus_test_Twelve.csv.*'nope'"):
        stimuli.images(["0001", "nope"])


def test_behavioral_assembly_into_the_i2n_layout(tmp_path, stimulus_set):
    from neuronb.analysis.behavior import behavior_from_brainio, check_behavior_data
    ids, images, csv_path, _ = stimulus_set
    objects = {i: ("cup", "dog")[k % 2] for k, i in enumerate(ids)}
    shown = ids[:4]
    trial_ids = shown * 3
    samples = [objects[i] for i in trial_ids]
    distractors = ["dog" if s == "cup" else "cup" for s in samples]
    choices = [s if t < 8 else d for t, (s, d) in enumerate(zip(samples, distractors))]   # last 4 trials wrong
    path = write_behavioral_assembly(tmp_path / "assy_trials.nc", trial_ids, samples, distractors, choices=choices)
    trials = read_behavioral_assembly(path)
    assert trials["correct"].tolist() == [1.0] * 8 + [0.0] * 4 and trials["stimulus_id"].tolist() == trial_ids
    data = check_behavior_data(behavior_from_brainio(path, csv_path))
    assert list(data["object"].values) == ["cup", "dog"] and data["label"].values.tolist() == [0, 1, 0, 1]
    assert data["correct"].shape == (4, 2, 3)
    assert data["correct"].values[0, 1].tolist() == [1.0, 1.0, 0.0] and np.isnan(data["correct"].values[0, 0]).all()
    assert np.array_equal(data["images"].values, images[:4]) and data["stimulus_id"].values.tolist() == shown
    legacy = write_behavioral_assembly(tmp_path / "assy_legacy.nc", trial_ids, samples, distractors,
                                       correct=[1.0] * 8 + [0.0] * 4, legacy=True)
    assert np.array_equal(behavior_from_brainio(legacy, csv_path)["correct"].values, data["correct"].values, equal_nan=True)
    write_assembly(xr.DataArray(np.ones(2), dims=("presentation",),
                                coords={"stimulus_id": ("presentation", ["0000", "0001"]),
                                        "dist_obj": ("presentation", ["dog", "cup"])}), tmp_path / "assy_no_sample.nc")
    with pytest.raises(ValueError, match=r"assy_no_sample.nc.*'sample_obj'"):
        read_behavioral_assembly(tmp_path / "assy_no_sample.nc")


def test_property_assemblies_make_ringach_and_freeman_ziemba_available(tmp_path):
    from neuronb.analysis.v1_properties import (property_specs, read_user_references, references_from_property_assembly,
                                                v1_property_scores)
    rng = np.random.default_rng(3)
    cells = np.column_stack([rng.uniform(0, 1, 60), rng.uniform(0, 90, 60), rng.uniform(0, 5, 60)])
    cells[0, 1] = np.nan
    ringach = write_property_assembly(tmp_path / "assy_shapley_Ringach2002.nc", cells,
                                      ["circular_variance", "bandwidth", "baseline"],
                                      {"circular_variance": np.linspace(0, 1, 14)}, property_coord="neuronal_property_")
    raw = read_property_assembly(ringach)
    assert np.array_equal(raw["bandwidth"]["values"], cells[:, 1], equal_nan=True) and raw["bandwidth"]["edges"] is None
    references = references_from_property_assembly(ringach)
    assert set(references) == {"circular_variance", "orientation_bandwidth"}
    assert references["orientation_bandwidth"]["counts"].sum() == 59
    assert np.array_equal(references["orientation_bandwidth"]["edges"], property_specs()["orientation_bandwidth"].edges)
    freeman = write_property_assembly(tmp_path / "assy_FreemanZiemba.nc", rng.uniform(-1, 1, (30, 1)),
                                      ["texture_modulation_index"], {"texture_modulation_index": np.linspace(-1, 1, 25)})
    user = read_user_references([ringach, freeman])
    properties = pd.DataFrame({"circular_variance": rng.uniform(0, 1, 20), "orientation_bandwidth": rng.uniform(5, 80, 20),
                               "texture_modulation_index": rng.uniform(-0.5, 0.5, 20)})
    before = v1_property_scores(properties, n_bootstrap=20).set_index("property")
    after = v1_property_scores(properties, user_data=user, n_bootstrap=20).set_index("property")
    for name in ("circular_variance", "orientation_bandwidth", "texture_modulation_index"):
        assert before.loc[name, "status"] == "unavailable" and after.loc[name, "status"] == "ok"
        assert 0 <= after.loc[name, "score"] <= 1
    write_assembly(xr.DataArray(np.ones((2, 1)), dims=("neuroid", "neuronal_property")), tmp_path / "assy_unnamed.nc")
    with pytest.raises(ValueError, match=r"assy_unnamed.nc.*'neuronal_property' or 'neuronal_property_'"):
        read_property_assembly(tmp_path / "assy_unnamed.nc")
