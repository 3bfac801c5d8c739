# SphereFormer (Lai et al., CVPR 2023) on SemanticKITTI (19 classes, val = sequence 08): the U-Net of
# configs/segmentation/unet_semantickitti.py with one SphereFormer block after each encoder level's residual
# blocks. Source: the official config/semantic_kitti/semantic_kitti_unet32_spherical_transformer.yaml and
# model/unet_spherical_transformer.py, train.py (docs/references.md, ../shared REFERENCES §8.2-8.4):
# - voxel 0.05 m, range +-51.2 m x +-51.2 m x [-4, 2.4] m (its pc_range), at most 120k voxels per training scan;
# - 5 levels [32, 64, 128, 256, 256], 2 pre-activation residual blocks per level, BN eps 1e-4, heads C / 16;
# - cubic windows of 6 voxels (window_size 6 x 0.05 m = 0.3 m) at level 1, x2 per level (window_size_scale 2.0);
# - radial windows (2 deg, 2 deg, 80 m) at level 1, angles x1.5 per level, range fixed (window_size_sphere
#   [2, 2, 80], window_size_scale [2.0, 1.5]);
# - positions quantised into 24 bins per window side (quant_size_scale 24), range differences split
#   exponentially with a = 0.0125 m; contextual RPE on queries, keys and values (rel_query/key/value True);
# - drop path linspace(0, 0.3, 7)[:5] = 0, 0.05, 0.10, 0.15, 0.20 per level (drop_path_rate 0.3);
# - AdamW LR 0.006, weight decay 0.02, 0.1x LR on the transformer blocks (transformer_lr_scale 0.1), poly power
#   0.9 per iteration, 50 epochs, 8 scans per step (4 GPUs), AMP; cross-entropy with ignore 255;
# - augmentation: z-rotation over +-pi, x / y flips, scale 0.95-1.05, translation N(0, 0.1) m (the dataset config).
# Published val mIoU: 67.8 (69.0 with TTA over 4 views); by range <= 20 / 20-50 / > 50 m: 68.6 / 60.4 / 17.8.
# Departures: the cubic windows start at the range minimum (the official code takes the batch minimum, which
# moves a scan's windows with its batch-mates); the class weights of its cross-entropy are not reproduced (set
# `model.losses.ce.class_weight`); one PointNet layer encodes the voxels (official: the mean point's features).
_base_ = ['../segmentation/unet_semantickitti.py']

model = dict(
    backbone3d=dict(
        type='SphereFormerUNet',
        head_dim=16,  # heads 2, 4, 8, 16, 16
        quant_bins=24,
        range_unit=0.0125,  # a = 0.05 * 0.25
        cubic_origin=[-51.2, -51.2, -4.0],  # the range minimum
        sphere_blocks=[
            dict(cubic_window=[0.3, 0.3, 0.3], radial_window=[2.0, 2.0, 80.0], drop_path=0.0),
            dict(cubic_window=[0.6, 0.6, 0.6], radial_window=[3.0, 3.0, 80.0], drop_path=0.05),
            dict(cubic_window=[1.2, 1.2, 1.2], radial_window=[4.5, 4.5, 80.0], drop_path=0.10),
            dict(cubic_window=[2.4, 2.4, 2.4], radial_window=[6.75, 6.75, 80.0], drop_path=0.15),
            dict(cubic_window=[4.8, 4.8, 4.8], radial_window=[10.125, 10.125, 80.0], drop_path=0.20),
        ],
    ),
)
# train.py: the parameters whose name holds "transformer_block" train at 0.1x the base LR, same weight decay
optim_wrapper = dict(paramwise_cfg=dict(custom_keys={'transformer_blocks': dict(lr_mult=0.1)}))
