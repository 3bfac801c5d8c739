# SphereFormer segmentation shrunk to train on the synthetic dataset on 2 CPU cores in minutes
# (`make quickstart TASK=seg MODEL=sphereformer`): configs/segmentation/unet_synthetic_quick.py (same data, grid,
# widths, losses, schedule and budget) with one SphereFormer block after each encoder level, as
# sphereformer_semantickitti.py (the synthetic sensor is HDL-64-like, like SemanticKITTI's): cubic windows of 6
# voxels (1.2 m at 0.2 m voxels) doubling per level, radial windows (2 deg, 2 deg, 80 m) with angles x1.5 per
# level, 24 bins, a = 0.0125 m, drop path 0 -> 0.2, 0.1x LR on the blocks. Heads of 8 channels instead of 16
# (the widths [16..64] would leave level 1 a single head, and no cubic head). Measured once (docs/segmentation.md):
# 76.9 val mIoU against the U-Net's 78.7 (20-50 m 72.3 against 70.6, > 50 m 15.5 against 13.7) after 33.6 min
# against 8.0 on 2 shared CPU cores (the attention's CPU path is the cost).
_base_ = ['../segmentation/unet_synthetic_quick.py']

model = dict(
    backbone3d=dict(
        type='SphereFormerUNet',
        head_dim=8,  # heads 2, 4, 8, 8, 8
        quant_bins=24,
        range_unit=0.0125,
        cubic_origin=[-51.2, -51.2, -4.0],  # the range minimum
        sphere_blocks=[
            dict(cubic_window=[1.2, 1.2, 1.2], radial_window=[2.0, 2.0, 80.0], drop_path=0.0),
            dict(cubic_window=[2.4, 2.4, 2.4], radial_window=[3.0, 3.0, 80.0], drop_path=0.05),
            dict(cubic_window=[4.8, 4.8, 4.8], radial_window=[4.5, 4.5, 80.0], drop_path=0.10),
            dict(cubic_window=[9.6, 9.6, 9.6], radial_window=[6.75, 6.75, 80.0], drop_path=0.15),
            dict(cubic_window=[19.2, 19.2, 19.2], radial_window=[10.125, 10.125, 80.0], drop_path=0.20),
        ],
    ),
)
optim_wrapper = dict(paramwise_cfg=dict(custom_keys={'transformer_blocks': dict(lr_mult=0.1)}))
