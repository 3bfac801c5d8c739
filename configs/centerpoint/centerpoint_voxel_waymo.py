# CenterPoint-Voxel on Waymo (OpenPCDet `centerpoint`): the sparse-convolution baseline. Needs spconv.
# Published (DSVT README table): Waymo val mAPH L2 65.8, 40 ms.
_base_ = [
    "../_base_/datasets/waymo.py",
    "../_base_/models/centerpoint_voxel.py",
    "../_base_/schedules/onecycle_24e.py",
    "../_base_/default_runtime.py",
]

point_cloud_range = [-75.2, -75.2, -2.0, 75.2, 75.2, 4.0]  # +-75.2 m
class_names = ["Vehicle", "Pedestrian", "Cyclist"]

model = dict(data_preprocessor=dict(point_cloud_range=point_cloud_range), head=dict(class_names=class_names))

train_cfg = dict(max_epochs=30, val_interval=30)  # OpenPCDet Waymo CenterPoint: 30 epochs, LR 0.003
train_dataloader = dict(batch_size=4, dataset=dict(point_cloud_range=point_cloud_range))
val_dataloader = dict(dataset=dict(point_cloud_range=point_cloud_range))
test_dataloader = val_dataloader
val_evaluator = dict(type="WaymoMetric", class_names=class_names)
test_evaluator = val_evaluator
