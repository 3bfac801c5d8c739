"""Voxel feature encoders."""

from .dynamic_vfe import DynamicPillarVFE, DynamicVFE

__all__ = ["DynamicPillarVFE", "DynamicVFE"]
