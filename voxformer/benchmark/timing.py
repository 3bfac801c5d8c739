"""Timing helpers and the row format shared by every benchmark suite."""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import torch


@dataclass
class Row:
    """One benchmark result; ``ratio`` = ``time_ms`` / ``baseline_ms`` (both from the same run)."""

    name: str
    shape: str
    device: str
    time_ms: float
    baseline: str | None = None
    baseline_ms: float | None = None

    @property
    def ratio(self) -> float | None:
        if self.baseline_ms is None or self.baseline_ms == 0:
            return None
        return self.time_ms / self.baseline_ms

    def to_dict(self) -> dict:
        return {**asdict(self), "ratio": self.ratio}


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def median_ms(fn: Callable[[], object], device: torch.device | str = "cpu", warmup: int = 2, repeat: int = 5) -> float:
    """Median wall time of ``fn()`` in milliseconds after ``warmup`` calls (synchronizing CUDA)."""
    device = torch.device(device)
    for _ in range(warmup):
        fn()
    _synchronize(device)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        _synchronize(device)
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def compare(
    name: str,
    shape: str,
    device: torch.device | str,
    fn: Callable[[], object],
    baseline_name: str | None = None,
    baseline_fn: Callable[[], object] | None = None,
    warmup: int = 2,
    repeat: int = 5,
) -> Row:
    """Time ``fn`` and, when given, its baseline in the same run, and return a :class:`Row`."""
    time_ms = median_ms(fn, device, warmup, repeat)
    baseline_ms = median_ms(baseline_fn, device, warmup, repeat) if baseline_fn is not None else None
    return Row(name, shape, str(torch.device(device)), time_ms, baseline_name, baseline_ms)


def format_table(rows: Sequence[Row]) -> str:
    header = ("name", "shape", "device", "time_ms", "baseline", "baseline_ms", "ratio")
    lines = [header]
    for row in rows:
        ratio = row.ratio
        lines.append(
            (
                row.name,
                row.shape,
                row.device,
                f"{row.time_ms:.3f}",
                row.baseline or "-",
                f"{row.baseline_ms:.3f}" if row.baseline_ms is not None else "-",
                f"{ratio:.2f}" if ratio is not None else "-",
            )
        )
    widths = [max(len(str(line[i])) for line in lines) for i in range(len(header))]
    out = ["  ".join(str(cell).ljust(width) for cell, width in zip(line, widths)) for line in lines]
    out.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(out)


def write_json(rows: Sequence[Row], path: str) -> None:
    with open(path, "w") as f:
        json.dump([row.to_dict() for row in rows], f, indent=2)
