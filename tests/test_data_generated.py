"Generated datasets (shapes, digits, photos, headcam): parameter errors, interrupted generation, cache reloads."
import json

import numpy as np
import pytest
import torch

import neuronb.data.synthetic as synthetic
import neuronb.data.video as video
from neuronb.data.core import ImageSet, get_dataset


def cache_entries(root, kind):
    "Everything under <root>/<kind>, finished or temporary."
    folder = root / kind
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


@pytest.mark.parametrize("kw,fragments", [
    (dict(image_size=48), ["image_size", "(32, 64)", "48"]),
    (dict(n_per_class=0), ["n_per_class", "positive", "0"]),
    (dict(n_per_class=2.5), ["n_per_class", "2.5"]),
    (dict(n_coarse=6), ["n_coarse", "[1, 5]", "6"]),
    (dict(n_fine_per_coarse=0), ["n_fine_per_coarse", "0"]),
    (dict(seed=-3), ["seed", "-3"]),
])
def test_shapes_bad_parameters(tmp_path, kw, fragments):
    with pytest.raises(ValueError) as e:
        get_dataset("shapes", "train", root=tmp_path, **kw)
    for f in fragments:
        assert f in str(e.value)
    assert cache_entries(tmp_path, "shapes") == []          # refused before generating anything


def test_bad_splits_and_sizes(tmp_path):
    for name in ("shapes", "digits", "photos", "headcam"):
        with pytest.raises(ValueError, match="split must be one of"):
            get_dataset(name, "val", root=tmp_path)
    with pytest.raises(ValueError, match="patch_size"):
        get_dataset("photos", "train", root=tmp_path, patch_size=1000)
    with pytest.raises(ValueError, match="image_size"):
        get_dataset("digits", "train", root=tmp_path, image_size=16)
    with pytest.raises(ValueError, match="size must be an even int"):
        video.make_headcam_videos(size=127, root=tmp_path)
    with pytest.raises(ValueError, match="seg_len"):
        get_dataset("headcam", "train", root=tmp_path, fps=3, seg_len=0.5)
    assert not (tmp_path / "headcam").exists()


def test_read_video_errors_name_the_path(tmp_path):
    missing = tmp_path / "nothing.mp4"
    with pytest.raises(FileNotFoundError, match=str(missing)):
        video.read_video(missing)
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"\x00" * 100)
    with pytest.raises(ValueError, match=str(junk)):
        video.read_video(junk)


def test_interrupted_shapes_generation_leaves_nothing(tmp_path, monkeypatch):
    real_save = ImageSet.save

    def save_then_die(self, path):
        real_save(self, path)                       # the data file is complete...
        raise KeyboardInterrupt                     # ...but the run dies before the manifest is written

    monkeypatch.setattr(ImageSet, "save", save_then_die)
    with pytest.raises(KeyboardInterrupt):
        get_dataset("shapes", "train", root=tmp_path, n_per_class=2)
    assert cache_entries(tmp_path, "shapes") == []
    monkeypatch.setattr(ImageSet, "save", real_save)
    data = get_dataset("shapes", "train", root=tmp_path, n_per_class=2)    # a later call generates normally
    assert len(data) == 40 and len(cache_entries(tmp_path, "shapes")) == 1


def test_interrupted_headcam_generation_leaves_nothing(tmp_path, monkeypatch):
    real_render, calls = video.render_headcam, []

    def render_twice_then_fail(*args, **kw):
        calls.append(1)
        if len(calls) == 2:                         # the first video is already written
            raise RuntimeError("simulated crash")
        return real_render(*args, **kw)

    monkeypatch.setattr(video, "render_headcam", render_twice_then_fail)
    with pytest.raises(RuntimeError, match="simulated crash"):
        video.make_headcam_videos(n_videos=2, seconds=1, fps=10, size=64, root=tmp_path)
    assert len(calls) == 2 and cache_entries(tmp_path, "headcam") == []


def test_cached_reload_is_identical(tmp_path):
    kw = dict(root=tmp_path, n_per_class=3, n_coarse=2, n_fine_per_coarse=3, image_size=64)
    first, again = get_dataset("shapes", "test", **kw), get_dataset("shapes", "test", **kw)
    assert torch.equal(first.images, again.images) and torch.equal(first.labels["fine"], again.labels["fine"])
    assert first.classes == again.classes and first.meta == again.meta and first.meta["fine_to_coarse"] == [0, 0, 0, 1, 1, 1]
    fresh = synthetic.generate_shapes("test", n_per_class=3, image_size=64, n_coarse=2, n_fine_per_coarse=3)
    assert torch.equal(fresh.images, first.images)                           # cache = regeneration
    train = get_dataset("shapes", "train", **kw)
    assert not {bytes(i.numpy()) for i in train.images} & {bytes(i.numpy()) for i in first.images}
    for name, extra in (("digits", {}), ("photos", dict(n_patches=20, patch_size=32))):
        a, b = get_dataset(name, "test", root=tmp_path, **extra), get_dataset(name, "test", root=tmp_path, **extra)
        assert torch.equal(a.images, b.images) and all(torch.equal(a.labels[k], b.labels[k]) for k in a.labels)


def test_corrupted_cache_is_regenerated(tmp_path):
    first = get_dataset("photos", "train", root=tmp_path, n_patches=10, patch_size=32)
    (folder,) = (tmp_path / "photos").iterdir()
    (folder / "data.npz").write_bytes(b"garbage")
    again = get_dataset("photos", "train", root=tmp_path, n_patches=10, patch_size=32)
    assert torch.equal(first.images, again.images)


def test_headcam_cache_and_reader(tmp_path):
    paths = video.make_headcam_videos(n_videos=2, seconds=2, fps=10, size=64, seed=3, root=tmp_path)
    assert video.make_headcam_videos(n_videos=2, seconds=2, fps=10, size=64, seed=3, root=tmp_path) == paths
    info = json.loads(paths[1].with_suffix(".json").read_text())
    assert info["n_frames"] == 20 and info["index"] == 1
    frames, native = video.read_video(paths[0])
    assert frames.shape == (20, 3, 64, 64) and native == 10
    assert torch.equal(video.read_video(paths[0], fps=5)[0], frames[::2])
    data = get_dataset("headcam", "test", root=tmp_path, n_videos=2, seconds=2, video_fps=10, video_size=64, seed=3,
                       fps=10, seg_len=1)
    assert len(data) == 8 and data.num_classes("time") == 4 and np.array_equal(data.labels["frame"][:2].numpy(), [8, 9])
