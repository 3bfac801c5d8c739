"""voxformer.datasets: info files, GT database, dataset classes (registered in DATASETS on import)."""

from voxformer.datasets.base import KittiDataset, LidarDetDataset, SyntheticDataset

__all__ = ["KittiDataset", "LidarDetDataset", "SyntheticDataset"]
