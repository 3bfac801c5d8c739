# DSVT-Pillar on Waymo, voxformer's variant: dsvt_pillar_waymo.py (the published recipe, same BEV network,
# head and training) with voxformer's voxel encoder and DSVT backbone in place of the published ones.
# Departures from the published network, and why:
# - Voxel encoder `DynamicPillarVFE`: LayerNorm instead of BatchNorm (a point's feature does not depend on
#   the other points of the batch, so training and inference agree at any batch size), and every layer at
#   full width (192 -> 384 concatenated) instead of half width.
# - Backbone `DSVT`: one position embedding per block, of the window configuration the block attends in
#   (upstream feeds layer i the embedding of configuration i, its "TODO: bug"), so the positions match the
#   sets; LayerNorm in it instead of BatchNorm; one residual + LayerNorm per sublayer instead of two more
#   wrappers around each layer and block (the extra norms re-normalize an already normalized stream).
# - Initialization: PyTorch defaults instead of Xavier-uniform on every weight matrix.
# Voxel encoder 76,608 and backbone 2,528,256 parameters, where the published ones have 38,496 and 2,684,928.
_base_ = ["./dsvt_pillar_waymo.py"]

model = dict(
    voxel_encoder=dict(type="DynamicPillarVFE"),  # same in_channels / feat_channels
    backbone3d=dict(type="DSVT"),  # same channels, heads, windows, sets and shifts
)
