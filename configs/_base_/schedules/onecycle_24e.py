# 24-epoch one-cycle AdamW schedule shared by the published Waymo recipes (docs/references.md §DSVT, §ScatterFormer):
# OpenPCDet's adam_onecycle -> AdamW (its decoupled weight decay) + OneCycleLR and, against it, beta1 cycled
# 0.95 -> 0.85 -> 0.95 (MOMS), both stepped per iteration; grad clip 10.
lr = 0.003  # DSVT Waymo peak LR (ScatterFormer uses 0.006, FlatFormer 0.001: set in their configs)
optim_wrapper = dict(
    type="OptimWrapper",
    optimizer=dict(type="AdamW", lr=lr, betas=(0.9, 0.99), weight_decay=0.05),  # WD 0.05 (all three recipes)
    clip_grad=dict(max_norm=10, norm_type=2),  # grad clip 10 (DSVT, FlatFormer, ScatterFormer Waymo)
)
param_scheduler = [
    # pct_start 0.1, div 100 (DSVT Waymo); final LR = start / 1e4 (OpenPCDet's one-cycle default)
    dict(
        type="CheckpointableOneCycleLR",  # peak = optimizer lr, end = max_epochs
        pct_start=0.1,
        div_factor=100,
        final_div_factor=1e4,
        by_epoch=True,
        convert_to_iter_based=True,
    ),
    # MOMS [0.95, 0.85]: Adam's beta1 falls while the LR rises and rises back while it falls (same pct_start)
    dict(type="OneCycleMomentum", moms=(0.95, 0.85), pct_start=0.1, by_epoch=True, convert_to_iter_based=True),
]
train_cfg = dict(type="EpochBasedTrainLoop", max_epochs=24, val_interval=24)
val_cfg = dict(type="ValLoop")
test_cfg = dict(type="TestLoop")
