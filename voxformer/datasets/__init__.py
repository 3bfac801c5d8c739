"""voxformer.datasets: info files, GT database, dataset classes (registered in DATASETS on import).

Importing the package registers every dataset, wrapper and format-specific transform, so configs
need no ``custom_imports``.
"""

from voxformer.datasets.base import KittiDataset, LidarDetDataset, SyntheticDataset
from voxformer.datasets.formats.nuscenes_dataset import LoadNuScenesPoints, NuScenesDataset
from voxformer.datasets.seg_dataset import (
    LidarSegDataset,
    NuScenesSegDataset,
    SemanticKittiDataset,
    SyntheticSegDataset,
)
from voxformer.datasets.wrappers import CBGSDataset

__all__ = [
    "CBGSDataset",
    "KittiDataset",
    "LidarDetDataset",
    "LidarSegDataset",
    "LoadNuScenesPoints",
    "NuScenesDataset",
    "NuScenesSegDataset",
    "SemanticKittiDataset",
    "SyntheticDataset",
    "SyntheticSegDataset",
]
