# SphereFormer's segmentation schedule (its semantic_kitti / nuscenes *_unet32_spherical_transformer.yaml):
# AdamW, LR 0.006, poly decay with power 0.9 per iteration over 50 epochs. Weight decay: 0.02 on SemanticKITTI,
# 0.01 on nuScenes (set per config). SphereFormer's 0.1x LR for the attention parameters has no counterpart here
# (the U-Net has none). Batch: 8 (SemanticKITTI) / 16 (nuScenes) scans over 4 GPUs; AMP there (`--amp` here).
lr = 0.006
max_epochs = 50
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=lr, betas=(0.9, 0.999), weight_decay=0.01),
)
param_scheduler = [
    dict(type='PolyLR', power=0.9, eta_min=0.0, by_epoch=True, begin=0, end=max_epochs, convert_to_iter_based=True),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_begin=1, val_interval=5)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
