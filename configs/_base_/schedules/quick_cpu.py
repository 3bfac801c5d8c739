# A short one-cycle AdamW schedule for the synthetic quick configs (minutes on 2 CPU cores).
lr = 0.004
max_epochs = 5  # ~14 min for 320 training frames at batch 2 on 2 CPU cores (~1 s per iteration)
optim_wrapper = dict(
    type="OptimWrapper",
    optimizer=dict(type="AdamW", lr=lr, betas=(0.9, 0.99), weight_decay=0.01),
    clip_grad=dict(max_norm=10, norm_type=2),
)
param_scheduler = [
    dict(
        type="CheckpointableOneCycleLR",  # peak = optimizer lr, end = max_epochs
        pct_start=0.2,
        div_factor=10,
        final_div_factor=100,
        by_epoch=True,
        convert_to_iter_based=True,
    ),
]
train_cfg = dict(type="EpochBasedTrainLoop", max_epochs=max_epochs, val_begin=1, val_interval=max_epochs)
val_cfg = dict(type="ValLoop")
test_cfg = dict(type="TestLoop")
