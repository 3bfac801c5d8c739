# The sparse-convolution U-Net baseline on SemanticKITTI (19 classes, val = sequence 08), in the layout and recipe
# of SphereFormer (CVPR 2023; its semantic_kitti_unet32_spherical_transformer.yaml and unet_spherical_transformer.py)
# without the SphereFormer attention blocks: input SubM3 4 -> 32 features (here a one-layer PointNet voxel
# encoder over x, y, z, remission and the offsets, 32 wide), 5 levels [32, 64, 128, 256, 256], 2 pre-activation
# residual blocks per level, k2 s2 down, inverse convs up with skip concatenation, head BN-ReLU-Linear, BN eps
# 1e-4; voxel 0.05 m, range +-51.2 m x +-51.2 m x [-4, 2.4] m, at most 120k voxels per training scan;
# cross-entropy with ignore 255; AdamW LR 0.006, weight decay 0.02, poly 0.9, 50 epochs, 8 scans per step.
# Published val mIoU of that recipe *with* its attention blocks: 67.8 (69.0 with TTA; near / mid / far 68.6 /
# 60.4 / 17.8). No published number of the U-Net alone is verified here; docs/segmentation.md.
# Departure: SphereFormer weights the cross-entropy per class on SemanticKITTI; its weights are not reproduced
# here (set `model.losses.ce.class_weight` to 19 values to use them).
_base_ = [
    '../_base_/datasets/semantickitti.py',
    '../_base_/models/seg_unet.py',
    '../_base_/schedules/seg_poly_50e.py',
    '../_base_/default_runtime.py',
]

class_names = ('car', 'bicycle', 'motorcycle', 'truck', 'other-vehicle', 'person', 'bicyclist', 'motorcyclist',
               'road', 'parking', 'sidewalk', 'other-ground', 'building', 'fence', 'vegetation', 'trunk', 'terrain',
               'pole', 'traffic-sign')  # the learning order of semantic-kitti.yaml; checkpoints carry it too
label_format = 'semantickitti'
point_cloud_range = {{_base_.point_cloud_range}}
voxel_size = {{_base_.voxel_size}}

model = dict(
    data_preprocessor=dict(voxel_size=voxel_size, point_cloud_range=point_cloud_range),
    head=dict(num_classes=19),
    tta_views=None,  # SphereFormer's TTA votes over 4 augmented views, e.g. [dict(), dict(flip_x=True), ...]
)
optim_wrapper = dict(optimizer=dict(weight_decay=0.02))
