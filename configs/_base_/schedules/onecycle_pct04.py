# onecycle_24e.py with OpenPCDet's adam_onecycle defaults of its CenterPoint and nuScenes recipes: the LR rises
# over the first 40 % of the iterations from peak / 10 and ends at that start / 1e4; beta1 cycles MOMS
# [0.95, 0.85] over the same 40 %. Each config sets its own peak LR, weight decay, grad clip and epochs.
_base_ = ["./onecycle_24e.py"]

param_scheduler = [
    dict(
        type="CheckpointableOneCycleLR",  # peak = optimizer lr, end = max_epochs
        pct_start=0.4,
        div_factor=10,
        final_div_factor=1e4,
        by_epoch=True,
        convert_to_iter_based=True,
    ),
    dict(type="OneCycleMomentum", moms=(0.95, 0.85), pct_start=0.4, by_epoch=True, convert_to_iter_based=True),
]
