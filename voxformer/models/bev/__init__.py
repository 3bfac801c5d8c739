"""To-BEV modules and the 2D BEV backbone and neck."""

from .cascade_ded import CascadeDED
from .second import SECONDFPN, BasicResBlock, SECONDBackbone
from .to_bev import HeightCompression, PillarScatter

__all__ = ["SECONDFPN", "BasicResBlock", "CascadeDED", "HeightCompression", "PillarScatter", "SECONDBackbone"]
