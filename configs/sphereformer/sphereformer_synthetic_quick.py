# SphereFormer segmentation shrunk to train on the synthetic dataset on 2 CPU cores in minutes
# (`make quickstart TASK=seg MODEL=sphereformer`): configs/segmentation/unet_synthetic_quick.py (same data, grid,
# widths, losses, schedule and budget) with one SphereFormer block after encoder levels 1-4, as
# sphereformer_semantickitti.py (the synthetic sensor is HDL-64-like, like SemanticKITTI's): cubic windows of
# 2.4 m at level 1 doubling per level, radial windows (3 deg, 3 deg, 80 m) at level 1 with angles x1.5 per level,
# 24 bins, a = 0.0125 m, heads of 16 channels, drop path 0.05 -> 0.2, 0.1x LR on the blocks. Level 0 (16
# channels, the densest voxels) has no block: SphereFormer's own `sphere_layers` option, here [2, 3, 4, 5] of its
# 1-based levels; one 16-channel head there would leave no cubic head, and its block cost more than levels 3
# and 4 together. Measured: docs/segmentation.md.
_base_ = ['../segmentation/unet_synthetic_quick.py']

model = dict(
    backbone3d=dict(
        type='SphereFormerUNet',
        head_dim=16,  # heads 2, 4, 4, 4 on levels 1-4
        quant_bins=24,
        range_unit=0.0125,
        cubic_origin=[-51.2, -51.2, -4.0],  # the range minimum
        sphere_blocks=[
            None,  # level 0: no block (sphere_layers [2, 3, 4, 5])
            dict(cubic_window=[2.4, 2.4, 2.4], radial_window=[3.0, 3.0, 80.0], drop_path=0.05),
            dict(cubic_window=[4.8, 4.8, 4.8], radial_window=[4.5, 4.5, 80.0], drop_path=0.10),
            dict(cubic_window=[9.6, 9.6, 9.6], radial_window=[6.75, 6.75, 80.0], drop_path=0.15),
            dict(cubic_window=[19.2, 19.2, 19.2], radial_window=[10.125, 10.125, 80.0], drop_path=0.20),
        ],
    ),
)
optim_wrapper = dict(paramwise_cfg=dict(custom_keys={'transformer_blocks': dict(lr_mult=0.1)}))
