# FlatFormer on Waymo, 1 frame, 100 % data: `flatformer_waymo_D1_2x_3class` (docs/references.md §FlatFormer).
# Model numbers and sources in ../_base_/models/flatformer.py. Published: Waymo val mAPH L2 67.2.
_base_ = [
    "../_base_/datasets/waymo.py",
    "../_base_/models/flatformer.py",
    "../_base_/schedules/onecycle_24e.py",
    "../_base_/default_runtime.py",
]

point_cloud_range = [-74.88, -74.88, -2.0, 74.88, 74.88, 4.0]
class_names = ["Vehicle", "Pedestrian", "Cyclist"]

model = dict(data_preprocessor=dict(point_cloud_range=point_cloud_range), head=dict(class_names=class_names))

lr = 0.001  # AdamW one-cycle: base 1e-5, peak 1e-3 (div 100), 10 % warm-up, WD 0.05, grad clip 10
optim_wrapper = dict(optimizer=dict(lr=lr))
train_dataloader = dict(batch_size=1, dataset=dict(point_cloud_range=point_cloud_range))  # 1 per GPU x 8
val_dataloader = dict(dataset=dict(point_cloud_range=point_cloud_range))
test_dataloader = val_dataloader
val_evaluator = dict(type="WaymoMetric", class_names=class_names)
test_evaluator = val_evaluator
