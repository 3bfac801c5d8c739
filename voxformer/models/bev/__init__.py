"""To-BEV modules and the 2D BEV backbone and neck."""

from .second import SECONDFPN, BasicResBlock, SECONDBackbone
from .to_bev import HeightCompression, PillarScatter

__all__ = ["SECONDFPN", "BasicResBlock", "HeightCompression", "PillarScatter", "SECONDBackbone"]
