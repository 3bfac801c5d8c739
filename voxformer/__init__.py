"""voxformer: LiDAR 3D object detection with sparse voxel window attention."""

__version__ = "0.1.0"
