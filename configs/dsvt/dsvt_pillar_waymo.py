# DSVT-Pillar on Waymo, 1 frame, 100 % data: the published recipe `dsvt_plain_1f_onestage`
# (docs/references.md §DSVT). Model numbers and their sources are in ../_base_/models/dsvt_pillar.py.
# Published: Waymo val mAPH L2 71.0 (3-run average).
_base_ = [
    "../_base_/datasets/waymo.py",
    "../_base_/models/dsvt_pillar.py",
    "../_base_/schedules/onecycle_24e.py",  # adam_onecycle LR 0.003, WD 0.05, pct 0.1, div 100, clip 10, 24 ep
    "../_base_/default_runtime.py",
]

point_cloud_range = [-74.88, -74.88, -2.0, 74.88, 74.88, 4.0]  # +-74.88 m, z [-2, 4]
class_names = ["Vehicle", "Pedestrian", "Cyclist"]  # one task of the three Waymo classes

model = dict(data_preprocessor=dict(point_cloud_range=point_cloud_range), head=dict(class_names=class_names))
train_dataloader = dict(batch_size=3, dataset=dict(point_cloud_range=point_cloud_range))  # 3 per GPU x 8 GPUs
val_dataloader = dict(dataset=dict(point_cloud_range=point_cloud_range))
test_dataloader = val_dataloader
val_evaluator = dict(type="WaymoMetric", class_names=class_names)
test_evaluator = val_evaluator

# DisableAugmentationHook: gt_sampling, flips, rotation, scaling and translation off in the last epoch
custom_hooks = [
    dict(
        type="AugmentationSwitchHook",
        num_last_epochs=1,
        transforms=["ObjectSample", "RandomFlip3D", "GlobalRotScaleTrans"],
    )
]
