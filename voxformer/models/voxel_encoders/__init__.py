"""Voxel feature encoders."""

from .dsvt_pillar_vfe import PFNDynamicVFE
from .dynamic_vfe import DynamicPillarVFE, DynamicVFE
from .dynamic_vfe_official import DynamicVFEOfficial
from .mean_vfe import MeanVFE

__all__ = ["DynamicPillarVFE", "DynamicVFE", "DynamicVFEOfficial", "MeanVFE", "PFNDynamicVFE"]
