"""Colours shared by every view, so ground truth and predictions look the same in BEV and 3D.

RGB in [0, 1]. Ground truth is green, predictions are orange-red: they are never the same colour.
"""

GT_COLOR = (0.10, 0.80, 0.25)
PRED_COLOR = (1.00, 0.35, 0.05)
BACKGROUND_COLOR = (1.0, 1.0, 1.0)
POINT_COLORMAP = "viridis"
