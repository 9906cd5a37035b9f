"The streaming path (files decoded in DataLoader workers) trains exactly like the in-memory fast path."
import torch
from torch import nn

from neuronb.data import get_dataset
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
