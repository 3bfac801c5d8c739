# The sparse-convolution U-Net segmentation baseline, shrunk to train on the synthetic dataset on 2 CPU cores
# in minutes (`make quickstart TASK=seg`). Same network as unet_semantickitti.py (5 levels, residual SubM
# blocks, k2 s2 down, inverse convs up with skips); 0.2 m voxels instead of 0.05 m, widths [16..64] instead
# of [32..256], one block per level instead of two, Lovasz-softmax added to the cross-entropy, the loss taken
# per voxel, and a short one-cycle schedule. 14 of the 19 SemanticKITTI classes exist in the synthetic world;
# the metric's mIoU is over those 14. Measured: 78.7 val mIoU after 6.1 min on 2 CPU cores, data generation
# included (docs/segmentation.md).
_base_ = [
    '../_base_/datasets/synthetic_seg.py',
    '../_base_/models/seg_unet.py',
    '../_base_/schedules/quick_cpu.py',
    '../_base_/default_runtime.py',
]

# The dataset's range, +-51.2 m x +-51.2 m x [-4, 2.4] m. A +-25.6 m grid has a fifth fewer voxels but leaves
# the points beyond it to their nearest voxel's class: 66.2 val mIoU then, 35.6 at 20-50 m (docs/segmentation.md).
point_cloud_range = {{_base_.point_cloud_range}}
voxel_size = [0.2, 0.2, 0.2]  # grid (32, 512, 512)
channels = [16, 32, 64, 64, 64]

model = dict(
    data_preprocessor=dict(voxel_size=voxel_size, point_cloud_range=point_cloud_range),
    voxel_encoder=dict(feat_channels=[channels[0]]),
    backbone3d=dict(in_channels=channels[0], channels=channels, blocks=1),
    head=dict(in_channels=channels[0]),
    # cross-entropy plus Lovasz-softmax: the small classes (pole, traffic-sign, person) count as much as road
    losses=dict(ce=dict(type='CrossEntropySegLoss'), lovasz=dict(type='LovaszSoftmaxLoss')),
    loss_level='voxel',  # one (majority) label per voxel: 5x fewer rows than points at 0.2 m
)

lr = 0.01
max_epochs = 4  # 640 iterations of 2 frames
optim_wrapper = dict(optimizer=dict(lr=lr))
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
train_dataloader = dict(batch_size=2, num_workers=1)
val_dataloader = dict(num_workers=1)
test_dataloader = val_dataloader
default_hooks = dict(logger=dict(interval=20), checkpoint=dict(interval=max_epochs))
