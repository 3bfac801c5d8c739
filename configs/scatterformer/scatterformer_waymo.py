# ScatterFormer on Waymo, 1 frame, 100 % data (docs/references.md §ScatterFormer). Model numbers and sources in
# ../_base_/models/scatterformer.py. Published: Waymo val mAPH L2 73.8.
_base_ = [
    "../_base_/datasets/waymo.py",
    "../_base_/models/scatterformer.py",
    "../_base_/schedules/onecycle_24e.py",
    "../_base_/default_runtime.py",
]

point_cloud_range = [-76.8, -76.8, -2.0, 76.8, 76.8, 4.0]  # +-76.8 m
class_names = ["Vehicle", "Pedestrian", "Cyclist"]

model = dict(data_preprocessor=dict(point_cloud_range=point_cloud_range), head=dict(class_names=class_names))

lr = 0.006  # adam_onecycle LR 0.006, WD 0.05, grad clip 10
optim_wrapper = dict(optimizer=dict(lr=lr))
train_dataloader = dict(batch_size=4, dataset=dict(point_cloud_range=point_cloud_range))  # total batch 32 on 8 GPUs
val_dataloader = dict(dataset=dict(point_cloud_range=point_cloud_range))
test_dataloader = val_dataloader
val_evaluator = dict(type="WaymoMetric", class_names=class_names)
test_evaluator = val_evaluator

# DisableAugmentationHook: gt_sampling off in the last 4 epochs (the other augmentations stay on)
custom_hooks = [dict(type="AugmentationSwitchHook", num_last_epochs=4, transforms=["ObjectSample"])]
