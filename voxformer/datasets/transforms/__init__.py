"""voxformer.datasets.transforms: the TRANSFORMS of the data pipeline (registered on import)."""

from voxformer.datasets.transforms.augment import GlobalRotScaleTrans, PointShuffle, RandomFlip3D
from voxformer.datasets.transforms.base import RandomTransform, Transform
from voxformer.datasets.transforms.crop import CropToVoxels
from voxformer.datasets.transforms.filters import ObjectNameFilter, ObjectRangeFilter, PointsRangeFilter
from voxformer.datasets.transforms.formatting import Pack3DDetInputs
from voxformer.datasets.transforms.gt_sampling import ObjectSample
from voxformer.datasets.transforms.loading import LoadAnnotations3D, LoadPointSegLabels, LoadPointsFromFile
from voxformer.datasets.transforms.point_noise import IntensityJitter, RandomPointDrop

__all__ = [
    "CropToVoxels",
    "GlobalRotScaleTrans",
    "IntensityJitter",
    "LoadAnnotations3D",
    "LoadPointSegLabels",
    "LoadPointsFromFile",
    "ObjectNameFilter",
    "ObjectRangeFilter",
    "ObjectSample",
    "Pack3DDetInputs",
    "PointShuffle",
    "PointsRangeFilter",
    "RandomFlip3D",
    "RandomPointDrop",
    "RandomTransform",
    "Transform",
]
