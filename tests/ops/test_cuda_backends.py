"""Every op with backends, run with the backend picked automatically for a CUDA tensor, against the plain-PyTorch
reference on CPU tensors: partitions, voxelization, NMS keep-sets and points in boxes exactly; IoU, convolution,
segment sums and attention to the tolerance stated at each test.

Each test runs twice through the ``device`` fixture: ``cuda`` (marked ``gpu``, skipped without CUDA) runs the op on
CUDA tensors; ``cpu-as-cuda`` runs it on CPU tensors with backend selection made as for a CUDA tensor, Triton
kernels then running under ``TRITON_INTERPRET=1`` (set by ``tests/conftest.py`` when there is no GPU). Inputs stay
small for the interpreter: a few hundred tokens, a few segments.
"""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch
from voxformer.ops import attention, boxes, partition, segment, sparse_conv
from voxformer.ops import backends as selection
from voxformer.ops.voxelize import BACKENDS as VOXELIZE_BACKENDS

from voxformer import ops

from .test_attention import dsvt_like_sets

# ----------------------------------------------------------------------------------------------------------------
# where the op under test runs


@dataclasses.dataclass
class Target:
    """The device the op under test gets its inputs on, and the backend each op picked automatically there."""

    device: torch.device
    chosen: dict[str, str]

    def put(self, x: torch.Tensor) -> torch.Tensor:
        return x.to(self.device)

    def assert_ran_cuda_choice(self, op: str, options) -> None:
        """The last automatic choice for ``op`` was its preferred installed backend for CUDA tensors."""
        wanted = next(b.name for b in options if "cuda" in b.devices and b.installed())
        assert self.chosen.get(op) == wanted, f"{op}: ran {self.chosen.get(op)!r}, expected {wanted!r}"


@pytest.fixture(
    params=[
        pytest.param(
            "cuda", marks=[pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")]
        ),
        "cpu-as-cuda",
    ]
)
def device(request, monkeypatch) -> Target:
    """``cuda``: CUDA tensors; ``cpu-as-cuda``: CPU tensors, every op choosing its backend as for a CUDA tensor."""
    as_cuda = request.param == "cpu-as-cuda"
    if as_cuda and selection.triton_available() and not selection.triton_interpreted():
        pytest.skip("needs TRITON_INTERPRET=1 to run the Triton backends on CPU tensors")
    monkeypatch.delenv(selection.BACKEND_ENV, raising=False)
    choose, chosen = selection._choose, {}

    def recording_choose(op, options, device_type, backend):
        picked = choose(op, options, "cuda" if as_cuda else device_type, backend)
        if backend is None:
            chosen[op] = picked.name
        return picked

    monkeypatch.setattr(selection, "_choose", recording_choose)
    return Target(torch.device("cpu" if as_cuda else "cuda"), chosen)


def assert_same(actual, expected) -> None:
    """Exact equality of tensors (values, dtype, shape; any device), ints, and tuples or dataclasses of them."""
    if torch.is_tensor(expected):
        assert actual.dtype == expected.dtype and actual.shape == expected.shape
        assert torch.equal(actual.cpu(), expected), f"differs at {(actual.cpu() != expected).nonzero()[:5].tolist()}"
    elif dataclasses.is_dataclass(expected):
        for field in dataclasses.fields(expected):
            assert_same(getattr(actual, field.name), getattr(expected, field.name))
    elif isinstance(expected, tuple):
        assert len(actual) == len(expected)
        for got, want in zip(actual, expected):
            assert_same(got, want)
    else:
        assert actual == expected


def close(actual: torch.Tensor, expected: torch.Tensor, atol: float, rtol: float) -> None:
    assert actual.dtype == expected.dtype
    torch.testing.assert_close(actual.cpu(), expected, atol=atol, rtol=rtol)


# ----------------------------------------------------------------------------------------------------------------
# small input generators


def generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def unique_coords(num: int, sparse_shape: tuple[int, int, int], batch_size: int, seed: int) -> torch.Tensor:
    """(num, 4) int32 distinct (b, z, y, x) voxels inside ``sparse_shape``, in random order."""
    z, y, x = sparse_shape
    cells = torch.randperm(batch_size * z * y * x, generator=generator(seed))[:num]
    columns = (cells // (z * y * x), cells // (y * x) % z, cells // x % y, cells % x)
    return torch.stack(columns, dim=1).int()


def random_boxes(num: int, extent: float, seed: int, dtype=torch.float32) -> torch.Tensor:
    """(num, 7) boxes with centres in [-extent, extent]^3, sizes in [0.2, 3.2] and any yaw."""
    boxes = torch.rand(num, 7, generator=generator(seed), dtype=torch.float64)
    boxes[:, :3] = (boxes[:, :3] * 2 - 1) * extent
    boxes[:, 3:6] = boxes[:, 3:6] * 3 + 0.2
    boxes[:, 6] = (boxes[:, 6] * 2 - 1) * math.pi
    return boxes.to(dtype)


def crowded_scene(num: int, num_groups: int, seed: int, dtype=torch.float32):
    """Jittered copies of a few objects (exact duplicates and zero-size boxes among them), scores drawn from a
    few values so that ties are common, group ids in [-1, G] (-1 and G take no part)."""
    gen = generator(seed)
    objects = random_boxes(8, 4.0, seed, torch.float64)
    scene = objects[torch.randint(0, 8, (num,), generator=gen)]
    scene[:, :2] += 0.3 * torch.randn(num, 2, generator=gen, dtype=torch.float64)
    scene[:, 6] += 0.2 * torch.randn(num, generator=gen, dtype=torch.float64)
    scene[: num // 8] = scene[num // 8 : 2 * (num // 8)]
    scene[-3:, 3:5] = 0
    scores = torch.randint(0, 5, (num,), generator=gen).to(dtype) / 4
    groups = torch.randint(-1, num_groups + 1, (num,), generator=gen)
    return scene.to(dtype), scores, groups


def qkv(lengths: list[int], heads: int = 2, dim: int = 16, dtype=torch.float32, seed: int = 0):
    """q, k, v (N, H, D) in ``dtype`` for CSR segments of ``lengths``, and offsets (S + 1,) int64."""
    gen = generator(seed)
    tensors = [torch.randn(sum(lengths), heads, dim, generator=gen).to(dtype) for _ in range(3)]
    return (*tensors, torch.tensor([0, *lengths]).cumsum(0))


def weighted_grads(out: torch.Tensor, inputs, seed: int = 1):
    weight = torch.randn(out.shape, generator=generator(seed)).to(out)
    return torch.autograd.grad((out * weight).sum(), inputs)


# ----------------------------------------------------------------------------------------------------------------
# voxelization and partitions: exact


RANGE = (-4.0, -4.0, -1.0, 4.0, 4.0, 1.0)
VOXEL = (0.5, 0.5, 0.5)


def clouds(seed: int) -> list[torch.Tensor]:
    """Two (N, 4) clouds reaching past ``RANGE``, one with a point on each bound, and an empty one."""
    gen = generator(seed)
    first, second = (torch.rand(n, 4, generator=gen) * 10 - 5 for n in (300, 120))
    second[0, :3] = torch.tensor(RANGE[:3])  # the lower corner: kept
    second[1, :3] = torch.tensor(RANGE[3:])  # the upper corner: dropped
    return [first, second, torch.zeros(0, 4)]


@pytest.mark.parametrize("hard", [None, (3, None), (2, 20)], ids=["dynamic", "hard", "hard-capped"])
def test_voxelize(device, hard):
    limits = hard or (None, None)
    points = clouds(0)
    got = ops.voxelize([device.put(p) for p in points], VOXEL, RANGE, *limits)
    device.assert_ran_cuda_choice("voxelize", VOXELIZE_BACKENDS)
    assert_same(got, ops.voxelize(points, VOXEL, RANGE, *limits, backend="reference"))


@pytest.mark.parametrize("hard", [None, (2, 1)], ids=["dynamic", "hard"])
def test_voxelize_empty_and_degenerate(device, hard):
    limits = hard or (None, None)
    empty = [torch.zeros(0, 4)]
    assert_same(
        ops.voxelize([device.put(p) for p in empty], VOXEL, RANGE, *limits),
        ops.voxelize(empty, VOXEL, RANGE, *limits, backend="reference"),
    )
    same_voxel = torch.full((7, 4), 0.1)  # every point in one voxel, one NaN point, one far outside
    same_voxel[2, 3], same_voxel[5, :3] = float("nan"), 100.0
    with pytest.warns(UserWarning, match="NaN"):
        got = ops.voxelize(device.put(same_voxel), VOXEL, RANGE, *limits)
    with pytest.warns(UserWarning, match="NaN"):
        expected = ops.voxelize(same_voxel, VOXEL, RANGE, *limits, backend="reference")
    assert_same(got, expected)


# (sparse shape, window, shift, batch size given)
WINDOW_CASES = [
    ((1, 20, 24), (1, 8, 8), (0, 0, 0), True),
    ((1, 20, 24), (1, 8, 8), (0, 4, 4), False),
    ((4, 12, 12), (2, 6, 6), (1, 3, 3), True),
]


def partitions(device: Target, coords: torch.Tensor, sparse_shape, window, shift, batch_size):
    """The window partition on ``device`` (automatic backend) and the reference one on the CPU."""
    got = ops.window_partition(device.put(coords), sparse_shape, window, shift, batch_size)
    return got, ops.window_partition(coords, sparse_shape, window, shift, batch_size, backend="reference")


@pytest.mark.parametrize("sparse_shape,window,shift,given", WINDOW_CASES)
def test_window_partition_and_dsvt_sets(device, sparse_shape, window, shift, given):
    coords = unique_coords(250, sparse_shape, 2, seed=1)
    batch_size = 2 if given else None
    got, expected = partitions(device, coords, sparse_shape, window, shift, batch_size)
    device.assert_ran_cuda_choice("window_partition", partition._WINDOW_BACKENDS)
    assert_same(got, expected)
    for set_size, axis in ((10, "x"), (36, "y"), (1, "x")):
        sets = ops.dsvt_sets(got, device.put(coords), set_size, axis)
        device.assert_ran_cuda_choice("dsvt_sets", partition._SET_BACKENDS)
        assert_same(sets, ops.dsvt_sets(expected, coords, set_size, axis, backend="reference"))


def test_window_partition_and_dsvt_sets_empty_and_degenerate(device):
    for coords, window in (
        (torch.zeros(0, 4, dtype=torch.int32), (1, 4, 4)),  # no voxel
        (torch.tensor([[0, 0, 3, 5]], dtype=torch.int32), (1, 4, 4)),  # one voxel
        (unique_coords(40, (1, 8, 8), 1, seed=2), (1, 8, 8)),  # one window holds every voxel
    ):
        got, expected = partitions(device, coords, (1, 8, 8), window, (0, 0, 0), None)
        assert_same(got, expected)
        assert_same(
            ops.dsvt_sets(got, device.put(coords), 16, "y"),
            ops.dsvt_sets(expected, coords, 16, "y", backend="reference"),
        )


@pytest.mark.parametrize("axis,shifted,given", [("x", False, True), ("y", True, False), ("x", True, True)])
def test_flat_groups(device, axis, shifted, given):
    sparse_shape, window = (1, 20, 24), (1, 8, 8)
    coords = unique_coords(250, sparse_shape, 3, seed=3)
    batch_size = 3 if given else None
    for group_size in (16, 1, 300):
        got = ops.flat_groups(device.put(coords), sparse_shape, window, group_size, axis, shifted, batch_size)
        device.assert_ran_cuda_choice("flat_groups", partition._GROUP_BACKENDS)
        expected = ops.flat_groups(
            coords, sparse_shape, window, group_size, axis, shifted, batch_size, backend="reference"
        )
        assert_same(got, expected)


def test_flat_groups_empty_and_single_voxel(device):
    for coords in (torch.zeros(0, 4, dtype=torch.int32), torch.tensor([[1, 0, 2, 2]], dtype=torch.int32)):
        got = ops.flat_groups(device.put(coords), (1, 4, 4), (1, 2, 2), 4, "y", True)
        assert_same(got, ops.flat_groups(coords, (1, 4, 4), (1, 2, 2), 4, "y", True, backend="reference"))


# ----------------------------------------------------------------------------------------------------------------
# segment reductions and the depth-wise convolution: float32 sums in another order, to 1e-5


@pytest.mark.parametrize("reduce", segment.REDUCTIONS)
def test_segment_reduce(device, reduce):
    gen = generator(4)
    values = torch.randn(200, 6, generator=gen)
    index = torch.randint(-1, 12, (200,), generator=gen)
    index[index == 5] = 7  # segment 5 is empty
    got = ops.segment_reduce(device.put(values), device.put(index), num_segments=14, reduce=reduce)
    device.assert_ran_cuda_choice("segment_reduce", segment.BACKENDS)
    close(got, ops.segment_reduce(values, index, num_segments=14, reduce=reduce, backend="reference"), 1e-5, 1e-5)
    offsets = torch.tensor([0, 0, 30, 31, 31, 200])
    got = ops.segment_reduce(device.put(values), offsets=device.put(offsets), reduce=reduce)
    close(got, ops.segment_reduce(values, offsets=offsets, reduce=reduce, backend="reference"), 1e-5, 1e-5)
    empty = torch.zeros(0, 6)
    got = ops.segment_reduce(device.put(empty), device.put(torch.zeros(0, dtype=torch.long)), num_segments=3)
    close(got, torch.zeros(3, 6), 0, 0)


def depthwise_case(device: Target, coords, sparse_shape, kernel, channels: int, seed: int):
    """Forward and (feature, weight) gradients on ``device`` (automatic backend) and with the reference."""
    gen = generator(seed)
    volume = kernel[0] * kernel[1] * kernel[2]
    shapes = ((len(coords), channels), (volume, channels), (channels,))
    features, weight, bias = (torch.randn(*shape, generator=gen) for shape in shapes)
    results = []
    for target, backend in ((device.put, None), (lambda x: x, "reference")):
        inputs = [target(x).requires_grad_() for x in (features, weight)]
        out = ops.sparse_depthwise_conv(
            inputs[0], target(coords), sparse_shape, inputs[1], kernel, target(bias), backend=backend
        )
        grads = weighted_grads(out, inputs) if len(coords) else (torch.zeros_like(x) for x in inputs)
        results.append([out.detach(), *grads])
    return results


@pytest.mark.parametrize("kernel", [(3, 3, 3), (1, 5, 5)])
def test_sparse_depthwise_conv(device, kernel):
    sparse_shape = (3, 10, 10)
    coords = unique_coords(150, sparse_shape, 2, seed=5)
    got, expected = depthwise_case(device, coords, sparse_shape, kernel, 8, seed=6)
    device.assert_ran_cuda_choice("sparse_depthwise_conv", sparse_conv.BACKENDS)
    for actual, wanted in zip(got, expected):
        close(actual, wanted, 1e-5, 1e-5)


def test_sparse_depthwise_conv_empty_and_isolated(device):
    isolated = torch.tensor([[0, 0, 0, 0], [0, 2, 4, 4], [1, 0, 0, 0]], dtype=torch.int32)  # no neighbour at all
    no_voxel = torch.zeros(0, 4, dtype=torch.int32)
    for coords, kernel in ((no_voxel, (3, 3, 3)), (isolated, (3, 3, 3)), (isolated, (1, 1, 1))):
        got, expected = depthwise_case(device, coords, (3, 6, 6), kernel, 5, seed=7)
        for actual, wanted in zip(got, expected):
            close(actual, wanted, 1e-6, 1e-6)


# ----------------------------------------------------------------------------------------------------------------
# attention: forward and gradients against the fp32 reference


# Segment lengths: empty segments, 1-token segments, one segment over more than one 64-token block.
LENGTHS = [0, 5, 1, 37, 0, 70, 12]
# Triton's interpreter multiplies bf16 tiles wrongly (tests/ops/test_attention.py), so bf16 runs on CUDA only.
DTYPES = [torch.float32, torch.float16, torch.bfloat16]


def tolerance(dtype: torch.dtype, scale: float = 1.0) -> tuple[float, float]:
    """(atol, rtol). fp32 (exact ``ieee`` dots): 1e-5 of the output's magnitude ``scale``, rtol 1e-4 for the
    different summation order. Half inputs with fp32 accumulation: rounding the output costs half an ulp and the
    half-precision probabilities fed to the second product about as much, so rtol = eps, atol = eps / 4 * scale."""
    if dtype == torch.float32:
        return 1e-5 * scale, 1e-4
    eps = torch.finfo(dtype).eps
    return eps / 4 * scale, eps


def attention_case(device: Target, op, lengths, dtype, seed: int = 0, **kwargs):
    """Run ``op(q, k, v, layout, **kwargs)`` on ``device`` in ``dtype`` and with the reference in fp32 on the same
    (rounded) inputs; compare the outputs and the q, k, v gradients."""
    if dtype == torch.bfloat16 and device.device.type == "cpu":
        pytest.skip("bf16 Triton runs on CUDA only (the interpreter's bf16 dot is wrong)")
    *inputs, offsets = qkv(lengths, dtype=dtype, seed=seed)
    on_device = [device.put(x).requires_grad_() for x in inputs]
    full = [x.float().requires_grad_() for x in inputs]
    layout = kwargs.pop("layout", offsets)
    layout_args = layout if isinstance(layout, tuple) else (layout,)
    got = op(*on_device, *(device.put(x) for x in layout_args), **kwargs)
    expected = op(*full, *layout_args, **kwargs, backend="reference")
    assert got.dtype == dtype
    close(got.float(), expected, *tolerance(dtype))
    if not len(got):
        return
    got_grads, expected_grads = weighted_grads(got, on_device), weighted_grads(expected, full)
    scale = 4 * max(float(g.abs().max()) for g in expected_grads)  # the gradients' magnitude, shared by q, k, v
    for actual, wanted in zip(got_grads, expected_grads):
        assert actual.dtype == dtype
        close(actual.float(), wanted, *tolerance(dtype, scale))


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_varlen_window_attention(device, dtype):
    attention_case(device, ops.varlen_window_attention, LENGTHS, dtype)
    device.assert_ran_cuda_choice("varlen_window_attention", attention.VARLEN_BACKENDS)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("feature_map", attention.FEATURE_MAPS)
def test_scattered_linear_attention(device, dtype, feature_map):
    attention_case(device, ops.scattered_linear_attention, LENGTHS, dtype, feature_map=feature_map)
    device.assert_ran_cuda_choice("scattered_linear_attention", attention.LINEAR_BACKENDS)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_set_attention(device, dtype):
    sets = tuple(x.cpu() for x in dsvt_like_sets(150, 6, 36, seed=8))  # the reference runs on the CPU
    attention_case(device, ops.set_attention, [150], dtype, layout=sets)
    device.assert_ran_cuda_choice("set_attention", attention.SET_BACKENDS)


def test_attention_empty_and_degenerate(device):
    for lengths in ([], [0, 0], [1]):
        attention_case(device, ops.varlen_window_attention, lengths, torch.float32)
        attention_case(device, ops.scattered_linear_attention, lengths, torch.float32)
    no_sets = (torch.zeros(0, 36, dtype=torch.long), torch.zeros(0, 36, dtype=torch.bool))
    attention_case(device, ops.set_attention, [4], torch.float32, layout=no_sets)
    one_token_everywhere = (torch.zeros(3, 8, dtype=torch.long), torch.zeros(3, 8, dtype=torch.bool))
    attention_case(device, ops.set_attention, [5], torch.float32, layout=one_token_everywhere)


# ----------------------------------------------------------------------------------------------------------------
# box ops: IoU to 1e-6 (fp32 outputs of a float64 computation), NMS keep-sets and points in boxes exactly


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
def test_iou(device, dtype):
    a, b = random_boxes(60, 4.0, seed=9, dtype=dtype), random_boxes(40, 4.0, seed=10, dtype=dtype)
    b[:10] = a[:10] + 0.05  # near duplicates
    b[10], b[11, 3:5] = a[10], 0  # an exact duplicate, a zero-area box
    atol = 1e-6 if dtype == torch.float32 else 1e-10
    for name, fn in (("boxes_iou_bev", ops.boxes_iou_bev), ("boxes_iou3d", ops.boxes_iou3d)):
        got = fn(device.put(a), device.put(b))
        device.assert_ran_cuda_choice(name, boxes.IOU_MATRIX_BACKENDS)
        expected = fn(a, b, backend="reference")
        assert (expected > 0).sum() > 20, "the scene should have overlapping pairs"
        close(got, expected, atol, 0)
        close(fn(device.put(a[:0]), device.put(b)), expected[:0], 0, 0)
    for mode in boxes.IOU_MODES:
        got = ops.boxes_iou_aligned(device.put(a[:40]), device.put(b), mode=mode)
        device.assert_ran_cuda_choice("boxes_iou_aligned", boxes.IOU_ALIGNED_BACKENDS)
        close(got, ops.boxes_iou_aligned(a[:40], b, mode=mode, backend="reference"), atol, 0)
        close(ops.boxes_iou_aligned(device.put(a[:0]), device.put(b[:0]), mode=mode), a.new_zeros(0), 0, 0)


def test_nms_rotated(device):
    scene, scores, groups = crowded_scene(120, 3, seed=11)
    got = ops.batched_nms_rotated(
        device.put(scene), device.put(scores), device.put(groups), [0.1, 0.5, 0.0], [None, 20, 10], [None, 5, 3]
    )
    device.assert_ran_cuda_choice("nms_rotated", boxes.NMS_ROTATED_BACKENDS)
    expected = ops.batched_nms_rotated(
        scene, scores, groups, [0.1, 0.5, 0.0], [None, 20, 10], [None, 5, 3], backend="reference"
    )
    assert len(expected) > 5
    assert_same(got, expected)
    for limits in ((None, None), (30, 4)):
        got = ops.nms_rotated(device.put(scene), device.put(scores), 0.2, *limits)
        assert_same(got, ops.nms_rotated(scene, scores, 0.2, *limits, backend="reference"))


def test_circle_nms(device):
    scene, scores, groups = crowded_scene(120, 3, seed=12)
    centers = scene[:, :2].contiguous()
    got = ops.batched_circle_nms(
        device.put(centers), device.put(scores), device.put(groups), [0.5, 1.0, 0.0], [None, 20, 10], [None, 5, 3]
    )
    device.assert_ran_cuda_choice("circle_nms", boxes.CIRCLE_NMS_BACKENDS)
    expected = ops.batched_circle_nms(
        centers, scores, groups, [0.5, 1.0, 0.0], [None, 20, 10], [None, 5, 3], backend="reference"
    )
    assert len(expected) > 5
    assert_same(got, expected)
    for post in (None, 4):
        got = ops.circle_nms(device.put(centers), device.put(scores), 0.8, post)
        assert_same(got, ops.circle_nms(centers, scores, 0.8, post, backend="reference"))


def test_nms_empty_and_degenerate(device):
    none = torch.zeros(0, 7)
    assert_same(ops.nms_rotated(device.put(none), device.put(none[:, 0]), 0.5), torch.zeros(0, dtype=torch.long))
    assert_same(ops.circle_nms(device.put(none[:, :2]), device.put(none[:, 0]), 1.0), torch.zeros(0, dtype=torch.long))
    copies = random_boxes(1, 2.0, seed=13).repeat(6, 1)  # identical boxes with tied scores: the first is kept
    copies[4:, 3:5] = 0  # two zero-area copies overlap nothing
    scores = torch.tensor([0.5, 0.9, 0.9, 0.1, 0.9, 0.2])
    for fn, items, threshold in ((ops.nms_rotated, copies, 0.3), (ops.circle_nms, copies[:, :2], 0.5)):
        got = fn(device.put(items), device.put(scores), threshold)
        assert_same(got, fn(items, scores, threshold, backend="reference"))
        assert_same(fn(device.put(items), device.put(scores), threshold, post_max_size=0), got[:0])


def test_points_in_boxes(device):
    scene = random_boxes(30, 4.0, seed=14)
    scene[0, 3:6] = 0  # a point-like box, with a point at its centre
    points = torch.rand(400, 4, generator=generator(15)) * 10 - 5
    points[0, :3] = scene[0, :3]
    got = ops.points_in_boxes(device.put(points), device.put(scene))
    device.assert_ran_cuda_choice("points_in_boxes", boxes.POINTS_IN_BOXES_BACKENDS)
    expected = ops.points_in_boxes(points, scene, backend="reference")
    assert (expected >= 0).sum() > 20 and expected[0] == 0
    assert_same(got, expected)
    got = ops.count_points_in_boxes(device.put(points), device.put(scene))
    device.assert_ran_cuda_choice("count_points_in_boxes", boxes.COUNT_POINTS_BACKENDS)
    assert_same(got, ops.count_points_in_boxes(points, scene, backend="reference"))
    for some_points, some_boxes in ((points[:0], scene), (points, scene[:0])):
        for fn in (ops.points_in_boxes, ops.count_points_in_boxes):
            got = fn(device.put(some_points), device.put(some_boxes))
            assert_same(got, fn(some_points, some_boxes, backend="reference"))
