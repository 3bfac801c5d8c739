# ScatterFormer on Waymo, voxformer's variant: scatterformer_waymo.py (the published recipe, same BEV network,
# head and training) with voxformer's voxel encoder and ScatterFormer backbone in place of the published ones.
# Departures from the published network, and why:
# - Voxelization: the float64 cell rule (`voxelizer="exact"`) instead of float32, so a point on a cell border
#   falls into the cell its coordinates say.
# - Voxel encoder `DynamicVFE`: LayerNorm instead of BatchNorm (a point's feature does not depend on the other
#   points of the batch, so training and inference agree at any batch size), and every layer at full width
#   (64 -> 128 concatenated) instead of half width.
# - Backbone `ScatterFormer`: on the 32-cell grid (no extra z cell) and without the spconv stem (2.9 M of the
#   published 4.2 M backbone parameters): a depth-wise 3x3x3 position conv on a linear + LayerNorm input
#   projection, so it needs no spconv; pre-LayerNorm residual layers (the published layer replaces the stream
#   by BN(x) before the cross-window convs, which doubles the untouched channel quarter); depth-wise convs
#   with a bias and strips of w + 1 rounded to odd; attention pooling (not a strided sparse conv) between the
#   stages, and an attention pool with a key-padding mask from each pillar's voxels to the pillar.
# It has 9,016,268 parameters in all (VFE 9,152, backbone 952,704), where the published network has 12,300,908.
_base_ = ["./scatterformer_waymo.py"]

model = dict(
    data_preprocessor=dict(voxelizer="exact"),
    voxel_encoder=dict(_delete_=True, type="DynamicVFE", in_channels=5, feat_channels=[64, 64]),
    backbone3d=dict(
        _delete_=True,
        type="ScatterFormer",
        channels=128,  # width 128
        num_heads=4,  # 4 heads x 32
        ffn_channels=256,  # FFN C -> 2C
        window_size=12,  # 12 x 12 full-height windows
        layers=[3, 3],  # 2 stages x 3 layers
        downsample_stride=[[2, 2, 2]],  # stride-2 between the stages -> BEV at stride 2 (240 x 240)
    ),
    to_bev=dict(_delete_=True, type="PillarScatter"),
)
