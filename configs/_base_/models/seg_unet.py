# The sparse-convolution U-Net segmentation baseline: dynamic voxels -> PointNet voxel encoder -> SparseUNet ->
# BN-ReLU-Linear per voxel -> every point takes its voxel's class (points outside the range: the nearest voxel's).
# Layout of SphereFormer's U-Net (CVPR 2023, its model config) without the attention blocks: 5 levels, channels
# [32, 64, 128, 256, 256], 2 pre-activation residual blocks per level, k2 s2 downsampling, BN eps 1e-4,
# head BN-ReLU-Linear. Loss: cross-entropy with ignore index 255 (SphereFormer trains with it alone).
# Set `num_classes`, the grid (`voxel_size`, `point_cloud_range`) and the widths in the top-level config.
ignore_index = 255
num_classes = 19
unet_channels = [32, 64, 128, 256, 256]

model = dict(
    type='VoxelSegmentor',
    data_preprocessor=dict(type='VoxelDataPreprocessor', voxel_size=[0.05, 0.05, 0.05],
                           point_cloud_range=[-51.2, -51.2, -4.0, 51.2, 51.2, 2.4]),
    # x, y, z, intensity plus the offsets to the voxel's point mean and centre; one layer: the stem's input
    voxel_encoder=dict(type='DynamicVFE', in_channels=4, feat_channels=[32], normalize_inputs=True),
    backbone3d=dict(type='SparseUNet', in_channels=32, channels=unet_channels, blocks=2, norm_eps=1e-4),
    head=dict(type='VoxelSegHead', in_channels=unet_channels[0], num_classes=num_classes),
    losses=dict(ce=dict(type='CrossEntropySegLoss', ignore_index=ignore_index)),
    ignore_index=ignore_index,
)
