# CenterPoint-Voxel on Waymo, voxformer's variant: centerpoint_voxel_waymo.py (the published recipe, same
# sparse ResNet, BEV network, head and training) with these departures from the published network, and why:
# - Voxelization: the exact rule of voxformer.ops.voxelize (float64 cells, half-open range) instead of
#   spconv's float32 cells, and dynamic: every point of a voxel counts and no voxel is dropped, where the
#   published MeanVFE averages the first 5 points of each voxel and keeps the first 150k voxels of a sample
#   (which ones depends on the point order, shuffled each epoch).
# - Voxel encoder `DynamicVFE`: a one-layer PointNet (x, y, z, intensity, elongation and the offsets to the
#   voxel's point mean and centre -> Linear -> LayerNorm -> ReLU -> max over the voxel's points, 16 wide)
#   instead of the parameter-free mean, so the backbone sees the spread of the points inside a voxel.
# - Backbone `SparseResNet8x` without the residual blocks' conv biases: each of those convs feeds a
#   BatchNorm, whose shift absorbs a bias, so the 960 bias parameters only add redundancy.
# - NMS per class instead of across the classes: a pedestrian overlapping a cyclist's box is not suppressed.
# Voxel encoder and backbone: 208 + 2,699,104 parameters, where the published ones have 0 + 2,695,312.
_base_ = ["./centerpoint_voxel_waymo.py"]

model = dict(
    data_preprocessor=dict(voxelizer="exact"),
    voxel_encoder=dict(_delete_=True, type="DynamicVFE", in_channels=5, feat_channels=[16]),
    backbone3d=dict(block_bias=False),
    head=dict(test_cfg=dict(nms=dict(class_agnostic=False))),
)
