"""Import official checkpoints (OpenPCDet ``model_state``, mmdet3d ``state_dict``) by per-module key rules.

The framework is :mod:`.base`; each module below registers the rules of some module types. Importing this
package registers them all.
"""

from . import bev, centerpoint, detector, dsvt, flatformer, heads, scatterformer  # noqa: F401  (register rules)
from .base import (
    SOURCES,
    WEIGHTS_KEY,
    KeyRule,
    convert_state_dict,
    gather_rules,
    module_types,
    register_rules,
    source_weights,
)
from .listing import PARTS, PUBLISHED_CONFIGS, random_state_dict, read_listing

__all__ = [
    "PARTS",
    "PUBLISHED_CONFIGS",
    "SOURCES",
    "WEIGHTS_KEY",
    "KeyRule",
    "convert_state_dict",
    "gather_rules",
    "module_types",
    "random_state_dict",
    "read_listing",
    "register_rules",
    "source_weights",
]
