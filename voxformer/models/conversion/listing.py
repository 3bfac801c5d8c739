"""Key listings: official state-dict keys and shapes as text, one ``<key> <shape>`` a line.

The shape is comma-separated ints, or ``scalar`` (BatchNorm's ``num_batches_tracked``); ``#`` lines are comments.
The listings of a published-recipe config are ``<config_stem>.<part>.txt`` files, concatenated in the order of
:data:`PARTS`, each part filling the prefixes of our state dict given there. From a listing, a random state dict
stands in for the official checkpoint when checking the rules (tests, ``tools/parity_table.py``).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import torch

PARTS = {  # part -> the prefixes of our state dict it fills
    "vfe_backbone": ("voxel_encoder.", "backbone3d.", "to_bev."),
    "bev": ("bev_backbone.", "bev_neck."),
    "head": ("head.",),
}
# config stem -> (config, the code base whose checkpoints it imports)
PUBLISHED_CONFIGS = {
    "dsvt_pillar_waymo": ("configs/dsvt/dsvt_pillar_waymo.py", "openpcdet"),
    "dsvt_voxel_waymo": ("configs/dsvt/dsvt_voxel_waymo.py", "openpcdet"),
    "flatformer_waymo": ("configs/flatformer/flatformer_waymo.py", "mmdet3d"),
    "scatterformer_waymo": ("configs/scatterformer/scatterformer_waymo.py", "openpcdet"),
    "centerpoint_voxel_waymo": ("configs/centerpoint/centerpoint_voxel_waymo.py", "openpcdet"),
}

Shape = tuple[int, ...] | None  # None: a scalar


def part_file(directory: str | Path, stem: str, part: str) -> Path:
    return Path(directory) / f"{stem}.{part}.txt"


def read_listing(files: Iterable[str | Path]) -> list[tuple[str, Shape]]:
    """(key, shape) of every listed key, file after file, in order."""
    entries = []
    for file in files:
        for number, line in enumerate(Path(file).read_text().splitlines(), start=1):
            if not line.strip() or line.startswith("#"):
                continue
            try:
                key, shape = line.split()
                entries.append((key, None if shape == "scalar" else tuple(int(n) for n in shape.split(","))))
            except ValueError:
                raise ValueError(f"{file}:{number}: expected '<key> <shape>', got {line!r}") from None
    return entries


def random_state_dict(entries: Iterable[tuple[str, Shape]], seed: int = 0) -> dict[str, torch.Tensor]:
    """Random float32 values per listed tensor, an int64 count per scalar."""
    generator = torch.Generator().manual_seed(seed)
    return {
        key: torch.randint(0, 1000, (), generator=generator)
        if shape is None
        else torch.randn(shape, generator=generator)
        for key, shape in entries
    }
