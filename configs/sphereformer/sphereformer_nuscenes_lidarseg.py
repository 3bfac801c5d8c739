# SphereFormer (Lai et al., CVPR 2023) on nuScenes-lidarseg (16 classes): the U-Net of
# configs/segmentation/unet_nuscenes_lidarseg.py with one SphereFormer block after each encoder level's residual
# blocks. Source: the official config/nuscenes/nuscenes_unet32_spherical_transformer.yaml,
# model/unet_spherical_transformer.py and train.py (../shared REFERENCES §8.2-8.4):
# - voxel 0.1 m, at most 120k voxels per training scan; 5 levels [32, 64, 128, 256, 256], 2 residual blocks per
#   level, heads C / 16;
# - cubic windows of 6 voxels (0.6 m) at level 1, x2 per level; radial windows (2 deg, 2 deg, 120 m) at level 1,
#   angles x2 per level (window_size_sphere [2, 2, 120], window_size_scale [2.0, 2.0]);
# - 24 quantisation bins per window side, a = 0.0125 m; drop path 0, 0.05, 0.10, 0.15, 0.20 per level;
# - AdamW LR 0.006, weight decay 0.01, 0.1x LR on the transformer blocks, poly 0.9 per iteration, 50 epochs,
#   16 scans per step (4 GPUs), AMP; augmentation: z-rotation +-pi, flips, scale 0.95-1.05, translation N(0, 0.1).
# Published val mIoU: 78.4 (79.5 with TTA); by range <= 20 / 20-50 / > 50 m: 80.8 / 60.8 / 30.4.
# Departures: as sphereformer_semantickitti.py (cubic windows from the range minimum; a PointNet voxel encoder);
# the range (+-51.2 m, z -5 to 3 m) is the dataset config's (SphereFormer sets none for nuScenes).
_base_ = ['../segmentation/unet_nuscenes_lidarseg.py']

model = dict(
    backbone3d=dict(
        type='SphereFormerUNet',
        head_dim=16,  # heads 2, 4, 8, 16, 16
        quant_bins=24,
        range_unit=0.0125,
        cubic_origin=[-51.2, -51.2, -5.0],  # the range minimum
        sphere_blocks=[
            dict(cubic_window=[0.6, 0.6, 0.6], radial_window=[2.0, 2.0, 120.0], drop_path=0.0),
            dict(cubic_window=[1.2, 1.2, 1.2], radial_window=[4.0, 4.0, 120.0], drop_path=0.05),
            dict(cubic_window=[2.4, 2.4, 2.4], radial_window=[8.0, 8.0, 120.0], drop_path=0.10),
            dict(cubic_window=[4.8, 4.8, 4.8], radial_window=[16.0, 16.0, 120.0], drop_path=0.15),
            dict(cubic_window=[9.6, 9.6, 9.6], radial_window=[32.0, 32.0, 120.0], drop_path=0.20),
        ],
    ),
)
optim_wrapper = dict(paramwise_cfg=dict(custom_keys={'transformer_blocks': dict(lr_mult=0.1)}))
