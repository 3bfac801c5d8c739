"""Host synchronisations of one forward of every detector, held to the budget of docs/ops_api.md.

On a CUDA tensor each of the calls counted here makes the host wait for the device (a value read back,
a data-dependent output size, a copy of host data to the device). The test runs on CPU tensors, where
they cost nothing, and counts them anyway by wrapping the tensor methods and torch functions for the
duration of one forward: the would-be syncs of the code path the detector takes on a GPU (every op on
the backend it picks for a CUDA tensor, Triton kernels interpreted; what the interpreter itself does
with the data is not counted). The value checks that the ops make on CPU tensors only are counted too.
"""

from __future__ import annotations

import collections
import contextlib
import re
import traceback
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.structures import InstanceData

from voxformer import ops
from voxformer.registry import MODELS
from voxformer.structures import Boxes3D, SparseVoxels
from voxformer.structures.det3d_sample import Det3DSample

try:
    import triton
except ImportError:
    triton = None

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "ops_api.md"
SECTION = "## Host synchronisations"
DETECTORS = {
    "DSVT-P": "dsvt/dsvt_synthetic_quick.py",
    "DSVT-V": "dsvt/dsvt_voxel_waymo.py",
    "FlatFormer": "flatformer/flatformer_synthetic_quick.py",
    "ScatterFormer": "scatterformer/scatterformer_synthetic_quick.py",
    "CenterPoint (spconv)": "centerpoint/centerpoint_voxel_waymo.py",
}
GRID_CELLS = 48  # x and y cells of the small grid every detector runs on (fits every configured window)
PROJECT_DIRS = (str(ROOT / "voxformer"), str(ROOT / "ops"))
TRITON_DIR = str(Path(triton.__file__).parent) if triton is not None else "//none"


def _is_bool_index(index) -> bool:
    if isinstance(index, tuple):
        return any(_is_bool_index(i) for i in index)
    return isinstance(index, torch.Tensor) and index.dtype == torch.bool and index.dim() > 0


def _sized_by_repeats(*args, **kwargs) -> bool:
    """``repeat_interleave`` with tensor repeats and no ``output_size`` reads the total back."""
    repeats = args[1] if len(args) > 1 else kwargs.get("repeats", args[0] if args else None)
    return "output_size" not in kwargs and isinstance(repeats, torch.Tensor)


class SyncCounter:
    """Counts would-be host syncs while active; ``sites`` maps (kind, project file:line) to a count."""

    def __init__(self):
        self.sites: collections.Counter = collections.Counter()

    @property
    def total(self) -> int:
        return sum(self.sites.values())

    def record(self, kind: str) -> None:
        stack = traceback.extract_stack()[:-2]
        if stack[-1].filename.startswith(TRITON_DIR):
            return  # the Triton interpreter moving data on the CPU; a compiled kernel does not
        site = "outside the project"
        for frame in reversed(stack):
            if frame.filename.startswith(PROJECT_DIRS):
                site = f"{Path(frame.filename).relative_to(ROOT)}:{frame.lineno} ({frame.name})"
                break
        self.sites[(kind, site)] += 1

    def _wrap(self, kind: str, original, counts=lambda *args, **kwargs: True):
        def wrapper(*args, **kwargs):
            if counts(*args, **kwargs):
                self.record(kind)
            return original(*args, **kwargs)

        return wrapper

    @contextlib.contextmanager
    def active(self):
        patches = [
            (torch.Tensor, name, self._wrap(name, getattr(torch.Tensor, name)))
            for name in ("item", "tolist", "cpu", "numpy", "__bool__", "__int__", "__float__", "__index__")
        ]
        patches += [
            (torch.Tensor, "nonzero", self._wrap("nonzero", torch.Tensor.nonzero)),
            (torch.Tensor, "masked_select", self._wrap("masked_select", torch.Tensor.masked_select)),
            (torch.Tensor, "bincount", self._wrap("bincount", torch.Tensor.bincount)),
            (
                torch.Tensor,
                "repeat_interleave",
                self._wrap("repeat_interleave", torch.Tensor.repeat_interleave, _sized_by_repeats),
            ),
            (
                torch.Tensor,
                "__getitem__",
                self._wrap("bool-mask index", torch.Tensor.__getitem__, lambda x, index: _is_bool_index(index)),
            ),
            (
                torch.Tensor,
                "__setitem__",
                self._wrap(
                    "bool-mask assignment",
                    torch.Tensor.__setitem__,
                    lambda x, index, value: _is_bool_index(index) and isinstance(value, torch.Tensor),
                ),
            ),
        ]
        for name in ("nonzero", "argwhere", "masked_select", "unique", "unique_consecutive", "bincount"):
            patches.append((torch, name, self._wrap(name, getattr(torch, name))))
        patches += [
            (torch, "where", self._wrap("where (one argument)", torch.where, lambda *a, **k: len(a) + len(k) == 1)),
            (
                torch,
                "repeat_interleave",
                self._wrap("repeat_interleave", torch.repeat_interleave, _sized_by_repeats),
            ),
            (torch, "tensor", self._wrap("host data to device", torch.tensor, lambda data, *a, **k: "device" in k)),
            (torch.Tensor, "new_tensor", self._wrap("host data to device", torch.Tensor.new_tensor)),
        ]
        saved = [(owner, name, vars(owner).get(name)) for owner, name, _ in patches]
        try:
            for owner, name, wrapper in patches:
                setattr(owner, name, wrapper)
            yield self
        finally:
            for owner, name, original in saved:
                if original is None:
                    delattr(owner, name)  # it was inherited
                else:
                    setattr(owner, name, original)


def documented_budgets() -> dict[str, tuple[int, int]]:
    """Detector -> (train, test) budget from the table of the host-synchronisation section of the doc."""
    section = DOC.read_text().split(SECTION, 1)[1].split("\n## ", 1)[0]
    budgets = {}
    for line in section.splitlines():
        match = re.fullmatch(r"\|\s*([^|]+?)\s*\|\s*(\d+)\s*\|\s*(\d+)\s*\|.*", line.strip())
        if match:
            budgets[match.group(1)] = (int(match.group(2)), int(match.group(3)))
    return budgets


def _small_model(name: str):
    cfg = Config.fromfile(ROOT / "configs" / DETECTORS[name])
    model_cfg = cfg.model.copy()
    vx, vy, _ = model_cfg.data_preprocessor.voxel_size
    z0, z1 = model_cfg.data_preprocessor.point_cloud_range[2], model_cfg.data_preprocessor.point_cloud_range[5]
    extent_x, extent_y = vx * GRID_CELLS, vy * GRID_CELLS
    model_cfg.data_preprocessor.point_cloud_range = [0.0, -extent_y / 2, z0, extent_x, extent_y / 2, z1]
    torch.manual_seed(0)
    return MODELS.build(model_cfg)


def _batch(model) -> dict:
    """Two samples of uniform points (some outside the range) with one car each."""
    rng = torch.Generator().manual_seed(0)
    x0, y0, z0, x1, y1, z1 = model.data_preprocessor.point_cloud_range
    low, high = torch.tensor([x0, y0, z0]), torch.tensor([x1, y1, z1])
    points, samples = [], []
    for n in (400, 250):
        xyz = low - 1 + (high - low + 2) * torch.rand(n, 3, generator=rng)
        points.append(torch.cat([xyz, torch.rand(n, model.voxel_encoder.in_channels - 3, generator=rng)], dim=1))
        box = [x0 + 0.4 * (x1 - x0), 0.5 * (y0 + y1), 0.5 * (z0 + z1), 4.0, 1.8, 1.6, 0.3]
        gt = InstanceData()
        gt.bboxes_3d = Boxes3D(torch.tensor([box + [1.0, 0.0] * model.head.with_velocity]))
        gt.labels_3d = torch.tensor([0])
        sample = Det3DSample()
        sample.gt_instances_3d = gt
        samples.append(sample)
    return dict(inputs=dict(points=points), data_samples=samples)


@pytest.fixture
def cuda_backends(monkeypatch):
    """Every op picks the backend it would pick on a CUDA tensor (Triton kernels run interpreted)."""
    pytest.importorskip("triton")
    if not ops.backends.triton_interpreted():
        pytest.skip("needs TRITON_INTERPRET=1 to run the Triton backends on CPU tensors")
    choose = ops.backends._choose
    monkeypatch.delenv(ops.backends.BACKEND_ENV, raising=False)
    monkeypatch.setattr(
        ops.backends, "_choose", lambda op, options, device_type, backend: choose(op, options, "cuda", backend)
    )


def _report(counter: SyncCounter) -> str:
    return "\n".join(f"{n:4d}  {kind:22s} {site}" for (kind, site), n in sorted(counter.sites.items(), key=str))


def test_counter_sees_each_kind_of_sync_and_restores_torch():
    x = torch.arange(6.0)
    with SyncCounter().active() as counter:
        x.sum().item()
        x[x > 2].sum()
        torch.nonzero(x)
        if x.any():
            x.tolist()
        x[:2].sum()  # a slice: no sync
        torch.where(x > 2, x, 0)  # three arguments: no sync
    kinds = collections.Counter(kind for kind, _ in counter.sites.elements())
    assert kinds == {"item": 1, "bool-mask index": 1, "nonzero": 1, "__bool__": 1, "tolist": 1}
    assert all(site.startswith("outside") for _, site in counter.sites)
    x.sum().item()
    assert counter.total == 5
    assert "item" not in vars(torch.Tensor) and torch.nonzero.__module__ != __name__


def test_doc_states_a_budget_for_every_detector():
    assert set(documented_budgets()) == set(DETECTORS)


@pytest.mark.parametrize("name", list(DETECTORS))
def test_forward_stays_within_the_documented_budget(name, cuda_backends):
    if DETECTORS[name].startswith("centerpoint"):
        pytest.importorskip("spconv", reason="the sparse-convolution baseline needs spconv")
    train_budget, test_budget = documented_budgets()[name]
    model = _small_model(name)
    data = _batch(model)
    model.train()
    with SyncCounter().active() as train:
        losses = model(**model.data_preprocessor(data, True), mode="loss")
    assert torch.isfinite(sum(losses.values()))
    model.eval()
    with torch.no_grad(), SyncCounter().active() as test:
        model(**model.data_preprocessor(data), mode="predict")
    report = f"train forward: {train.total} syncs\n{_report(train)}\ntest forward: {test.total} syncs\n{_report(test)}"
    assert train.total <= train_budget and test.total <= test_budget, report


def test_partitions_reusing_a_cached_count_equal_fresh_ones_and_skip_its_sync():
    rng = torch.Generator().manual_seed(1)
    coords = torch.unique(torch.randint(0, 30, (300, 4), generator=rng) % torch.tensor([2, 1, 30, 30]), dim=0)
    voxels = SparseVoxels(torch.zeros(len(coords), 1), coords, (1, 30, 30), 2)
    voxels.dsvt_sets((1, 8, 8), (0, 4, 4), 10, "y")
    voxels.flat_groups((1, 8, 8), 16, "x")
    with SyncCounter().active() as counter:
        sets = voxels.dsvt_sets((1, 8, 8), (0, 4, 4), 10, "x")
        groups = voxels.flat_groups((1, 8, 8), 16, "y", shifted=True)
    assert counter.total == 0, _report(counter)
    fresh_sets = ops.dsvt_sets(ops.window_partition(coords, (1, 30, 30), (1, 8, 8), (0, 4, 4), 2), coords, 10, "x")
    fresh_groups = ops.flat_groups(coords, (1, 30, 30), (1, 8, 8), 16, "y", True, 2)
    for got, want in ((sets, fresh_sets), (groups, fresh_groups)):
        assert all(torch.equal(a, b) for a, b in zip(got, want))
    window = voxels.windows((1, 8, 8), (0, 4, 4))
    with pytest.raises(ValueError, match="num_sets"):
        ops.dsvt_sets(window, coords, 10, "x", num_sets=len(sets.index) + 1, backend="reference")
