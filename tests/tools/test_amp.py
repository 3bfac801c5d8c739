"""``voxformer train --amp`` on the CPU: bf16 autocast trains every detector family.

DSVT goes through the CLI on the session's synthetic dataset (one epoch of two iterations, no validation);
FlatFormer and ScatterFormer run one forward / backward / step of their synthetic quick models inside
``CpuAmpOptimWrapper``'s context, on two generated frames. Each checks that the attention ops saw bf16,
that the loss is finite and that the weights changed.
"""

from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.structures import InstanceData
from voxformer.ops import attention

from voxformer.cli import main
from voxformer.engine.amp import CpuAmpOptimWrapper
from voxformer.registry import MODELS
from voxformer.structures import Boxes3D
from voxformer.structures.det3d_sample import Det3DSample

from .conftest import CONFIG, data_options

CONFIG_ROOT = Path(__file__).resolve().parents[2] / "configs"
CROP = [0.0, -12.8, -3.0, 25.6, 12.8, 1.0]  # small crop in front of the sensor, fits every window
CLASSES = ["Car", "Pedestrian", "Cyclist"]


@pytest.fixture
def attention_dtypes(monkeypatch):
    """The dtypes of q that the attention ops receive (after their autocast cast)."""
    seen = set()
    check = attention._check_qkv

    def recording(op, q, k, v):
        seen.add(q.dtype)
        return check(op, q, k, v)

    monkeypatch.setattr(attention, "_check_qkv", recording)
    return seen


@pytest.fixture
def recorded_steps(monkeypatch):
    """(loss, largest parameter change) of every ``update_params`` of a CpuAmpOptimWrapper."""
    steps = []
    update = CpuAmpOptimWrapper.update_params

    def recording(self, loss, *args, **kwargs):
        params = [p for group in self.optimizer.param_groups for p in group["params"]]
        before = [p.detach().clone() for p in params]
        update(self, loss, *args, **kwargs)
        change = max(float((p.detach() - b).abs().max()) for p, b in zip(params, before))
        steps.append((float(loss.detach()), change))

    monkeypatch.setattr(CpuAmpOptimWrapper, "update_params", recording)
    return steps


def test_train_amp_cli_on_cpu(synthetic_root, tmp_path, attention_dtypes, recorded_steps):
    options = [*data_options(synthetic_root), "train_cfg.max_epochs=1", "train_cfg.val_begin=2"]
    assert main(["train", CONFIG, "--work-dir", str(tmp_path), "--amp", "--cfg-options", *options]) == 0
    assert recorded_steps, "the CPU mixed-precision optimizer wrapper was not used"
    for loss, change in recorded_steps:
        assert torch.isfinite(torch.tensor(loss)) and change > 0
    assert attention_dtypes == {torch.bfloat16}


def _frames(count=2):
    pytest.importorskip("open3d", reason="the synthetic generator ray-casts with Open3D")
    from voxformer.datasets.synthetic.generate import generate_frame

    low, high = torch.tensor(CROP[:3]), torch.tensor(CROP[3:])
    points, samples = [], []
    for index in range(count):
        frame = generate_frame(seed=3, index=index)
        cloud = torch.from_numpy(frame.points)
        points.append(cloud[((cloud[:, :3] >= low) & (cloud[:, :3] < high)).all(dim=1)])
        boxes = torch.from_numpy(frame.annos["boxes"]).float()
        inside = ((boxes[:, :2] >= low[:2]) & (boxes[:, :2] < high[:2])).all(dim=1)
        gt = InstanceData()
        gt.bboxes_3d = Boxes3D(boxes[inside])
        gt.labels_3d = torch.tensor([CLASSES.index(n) for n in frame.annos["names"][inside.numpy()]])
        sample = Det3DSample()
        sample.gt_instances_3d = gt
        samples.append(sample)
    return dict(inputs=dict(points=points), data_samples=samples)


@pytest.mark.parametrize(
    "config", ["flatformer/flatformer_synthetic_quick.py", "scatterformer/scatterformer_synthetic_quick.py"]
)
def test_amp_step_of_detector(config, attention_dtypes, recorded_steps):
    torch.manual_seed(0)
    model_cfg = Config.fromfile(CONFIG_ROOT / config).model.copy()
    model_cfg.data_preprocessor.point_cloud_range = CROP
    model = MODELS.build(model_cfg)
    model.train()
    wrapper = CpuAmpOptimWrapper(optimizer=torch.optim.AdamW(model.parameters(), lr=1e-3))
    data = _frames()
    with wrapper.optim_context(model):
        losses = model(**model.data_preprocessor(data, True), mode="loss")
        loss = sum(losses.values())
    wrapper.update_params(loss)
    ((loss_value, change),) = recorded_steps
    assert torch.isfinite(torch.tensor(loss_value)) and change > 0
    assert attention_dtypes == {torch.bfloat16}


@pytest.mark.parametrize(
    "cuda,bf16,expected",
    [
        (False, False, {"type": "CpuAmpOptimWrapper"}),
        (True, True, {"type": "AmpOptimWrapper", "dtype": "bfloat16", "loss_scale": 1.0}),
        (True, False, {"type": "AmpOptimWrapper", "dtype": "float16", "loss_scale": "dynamic"}),
    ],
)
def test_amp_precision_per_device(monkeypatch, cuda, bf16, expected):
    """bf16 without loss scaling on a CPU or a GPU with bf16; fp16 with dynamic loss scaling otherwise."""
    from voxformer.apis import runner

    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *args, **kwargs: bf16)
    cfg = Config(dict(optim_wrapper=dict(type="OptimWrapper", optimizer=dict(type="AdamW", lr=1e-3))))
    runner._use_amp(cfg)
    assert {key: cfg.optim_wrapper.get(key) for key in expected} == expected
