"Bad inputs to the on-disk format readers: every error names the path (and line) at fault."
import os
import pickle
from pathlib import Path

import pytest
import torch

from neuronb.data.core import ImageSet, get_dataset
from neuronb.data.formats import (UnsafePickleError, list_corruption_tree, load_cifar_pickle, read_val_annotations,
                                  refolder_tinyimagenet_val, write_cifar, write_frame_folders, write_image_folder,
                                  write_tinyimagenet, write_tinyimagenet_c)

WNIDS = ["n02000000", "n01000000"]


def toy_set(n=4, size=32, n_classes=2, split="train", classes=None):
    g = torch.Generator().manual_seed(n)
    images = torch.randint(0, 256, (n, 3, size, size), generator=g, dtype=torch.uint8)
    fine = torch.arange(n) % n_classes
    return ImageSet(images, {"fine": fine, "coarse": fine % 2}, {"fine": classes or [f"c{k}" for k in range(n_classes)],
                                                                  "coarse": ["a", "b"]}, "toy", split)


@pytest.fixture
def tiny(tmp_path):
    return write_tinyimagenet(toy_set(4, 16, classes=WNIDS), toy_set(4, 16, split="val", classes=WNIDS), tmp_path)


@pytest.mark.parametrize("name,hint", [("cifar10", "cifar-10-batches-py"), ("cifar100", "cifar-100-python"),
                                       ("imagefolder", "<split>/<class>"), ("tinyimagenet", "wnids.txt"),
                                       ("tinyimagenet_c", "<corruption>/<severity"), ("frames", "class_")])
def test_missing_root(tmp_path, name, hint):
    with pytest.raises(ValueError, match=f"dataset '{name}' needs root=") as e:
        get_dataset(name, "train")
    assert hint in str(e.value)
    with pytest.raises(FileNotFoundError) as e:
        get_dataset(name, "train", root=tmp_path / "absent")
    assert str(tmp_path / "absent") in str(e.value)


def test_cifar_wrong_layout(tmp_path):
    with pytest.raises(FileNotFoundError, match="batches.meta") as e:
        get_dataset("cifar10", "train", root=tmp_path)
    assert "cifar-10-batches-py" in str(e.value)
    folder = write_cifar(toy_set(5), tmp_path, "cifar10")
    write_cifar(toy_set(2, split="test"), tmp_path, "cifar10")
    assert len(get_dataset("cifar10", "test", root=folder)) == 2
    (folder / "data_batch_4").unlink()
    with pytest.raises(FileNotFoundError, match="data_batch_4"):
        get_dataset("cifar10", "train", root=tmp_path)
    (folder / "test_batch").write_bytes(b"\x80\x02}q")        # truncated
    with pytest.raises(ValueError, match="test_batch"):
        get_dataset("cifar10", "test", root=tmp_path)
    with pytest.raises(ValueError, match="split must be one of"):
        get_dataset("cifar100", "val", root=tmp_path)


def test_cifar_refuses_code(tmp_path):
    (tmp_path / "evil").write_bytes(pickle.dumps(os.system, protocol=2))
    with pytest.raises(UnsafePickleError, match="evil"):
        load_cifar_pickle(tmp_path / "evil")


def test_imagefolder_wrong_layout(tmp_path):
    write_image_folder(toy_set(4, 8), tmp_path / "train")
    with pytest.raises(FileNotFoundError, match="no split folder") as e:
        get_dataset("imagefolder", "val", root=tmp_path)
    assert str(tmp_path / "val") in str(e.value) and "train" in str(e.value)
    flat = tmp_path / "flat"
    flat.mkdir()
    (flat / "x.png").write_bytes((tmp_path / "train" / "c0" / "000000.png").read_bytes())
    with pytest.raises(FileNotFoundError, match="no class folders") as e:
        get_dataset("imagefolder", "train", root=flat)
    assert str(flat) in str(e.value) and "<class>" in str(e.value)
    (tmp_path / "train" / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="holds no image files"):
        get_dataset("imagefolder", "train", root=tmp_path)


@pytest.mark.parametrize("in_memory", [False, True])
def test_imagefolder_unreadable_image(tmp_path, in_memory):
    write_image_folder(toy_set(4, 8), tmp_path / "train")
    (tmp_path / "train" / "c1" / "zz_broken.jpg").write_bytes(b"\xff\xd8\xff not really")
    with pytest.raises(ValueError, match="zz_broken.jpg"):
        ds = get_dataset("imagefolder", "train", root=tmp_path, in_memory=in_memory)
        next(iter(ds.loader(batch_size=len(ds))))


def test_tinyimagenet_wrong_layout_and_unreadable(tiny):
    with pytest.raises(FileNotFoundError, match="wnids.txt"):
        get_dataset("tinyimagenet", "train", root=tiny / "val")
    with pytest.raises(ValueError, match="no labels"):
        get_dataset("tinyimagenet", "test", root=tiny)
    broken = tiny / "train" / WNIDS[0] / "images" / f"{WNIDS[0]}_0.JPEG"
    broken.write_bytes(b"garbage")
    with pytest.raises(ValueError, match=f"{WNIDS[0]}_0.JPEG"):
        get_dataset("tinyimagenet", "train", root=tiny, in_memory=True)
    (tiny / "val" / "images" / "val_2.JPEG").unlink()
    with pytest.raises(FileNotFoundError, match="line 3") as e:
        get_dataset("tinyimagenet", "val", root=tiny)
    assert "val_2.JPEG" in str(e.value)


@pytest.mark.parametrize("bad_line,message", [("val_1.JPEG", "malformed"), ("val_1.JPEG\tn01000000\t0\t0\t15", "malformed"),
                                              ("val_1.txt\tn01000000", "malformed"),
                                              ("val_1.JPEG\tn09999999\t0\t0\t15\t15", "not in wnids.txt"),
                                              ("val_0.JPEG\tn01000000\t0\t0\t15\t15", "already annotated")])
def test_malformed_val_annotations(tiny, bad_line, message):
    annotations = tiny / "val" / "val_annotations.txt"
    lines = annotations.read_text().splitlines()
    lines[1] = bad_line
    annotations.write_text("\n".join(lines) + "\n")
    before = sorted(p.name for p in (tiny / "val" / "images").iterdir())
    for action in (lambda: refolder_tinyimagenet_val(tiny), lambda: get_dataset("tinyimagenet", "val", root=tiny)):
        with pytest.raises(ValueError, match=message) as e:
            action()
        assert f"{annotations} line 2" in str(e.value)
    assert sorted(p.name for p in (tiny / "val" / "images").iterdir()) == before    # nothing moved
    with pytest.raises(ValueError, match="line 2"):
        read_val_annotations(annotations, WNIDS)


def test_refolder_is_idempotent(tiny):
    before = get_dataset("tinyimagenet", "val", root=tiny)
    val = refolder_tinyimagenet_val(tiny)
    assert refolder_tinyimagenet_val(tiny) == val and not (val / "images").exists()
    after = get_dataset("tinyimagenet", "val", root=tiny)
    assert torch.equal(before.labels["fine"], after.labels["fine"])
    assert [f.name for f in before.files] == [f.name for f in after.files]


def test_tinyimagenet_c_errors(tmp_path):
    write_tinyimagenet_c(toy_set(4, 16, classes=WNIDS), tmp_path, "fog", 2)
    assert list_corruption_tree(tmp_path) == {"fog": [2]}
    with pytest.raises(ValueError, match="available: \\['fog'\\]"):
        get_dataset("tinyimagenet_c", root=tmp_path, corruption="snow")
    with pytest.raises(ValueError, match="available: \\[2\\]"):
        get_dataset("tinyimagenet_c", root=tmp_path, corruption="fog", severity=4)
    with pytest.raises(FileNotFoundError, match="no <corruption>/<severity>/ folders"):
        list_corruption_tree(tmp_path / "fog")
    (tmp_path / "fog" / "2" / WNIDS[1] / "val_9.JPEG").write_bytes(b"nope")
    with pytest.raises(ValueError, match="val_9.JPEG"):
        get_dataset("tinyimagenet_c", root=tmp_path, corruption="fog", severity=2, in_memory=True)


def test_frames_errors(tmp_path):
    frames = torch.randint(0, 256, (4, 3, 8, 8), dtype=torch.uint8)
    write_frame_folders(frames, [0, 0, 2, 2], tmp_path)
    ds = get_dataset("frames", root=tmp_path)
    assert ds.labels["time"].tolist() == [0, 0, 2, 2] and ds.labels["frame"].tolist() == [0, 1, 2, 3]
    (tmp_path / "class_0002" / "img_0003.jpeg").write_bytes(b"broken")
    with pytest.raises(ValueError, match="img_0003.jpeg"):
        get_dataset("frames", root=tmp_path, in_memory=True)
    (tmp_path / "class_0002" / "frame7.jpeg").write_bytes(b"x")
    with pytest.raises(ValueError, match="frame7.jpeg"):
        get_dataset("frames", root=tmp_path)
    with pytest.raises(FileNotFoundError, match="no class_<number> folders"):
        get_dataset("frames", root=tmp_path / "class_0000")
    with pytest.raises(ValueError, match="uint8"):
        write_frame_folders(frames.float(), [0, 0, 0, 0], tmp_path)
