# CenterPoint-Voxel on Waymo (OpenPCDet `centerpoint`): the sparse-convolution baseline. Needs spconv.
# Published (DSVT README table): Waymo val mAPH L2 65.8, 40 ms.
_base_ = [
    "../_base_/datasets/waymo.py",
    "../_base_/models/centerpoint_voxel.py",
    "../_base_/schedules/onecycle_pct04.py",
    "../_base_/default_runtime.py",
]

point_cloud_range = [-75.2, -75.2, -2.0, 75.2, 75.2, 4.0]  # +-75.2 m
class_names = ["Vehicle", "Pedestrian", "Cyclist"]

model = dict(data_preprocessor=dict(point_cloud_range=point_cloud_range), head=dict(class_names=class_names))

# OpenPCDet waymo_dataset.yaml: GT sampling with at least 5 points for every class; flips, rotation, scaling;
# no global translation
db_sampler = dict(
    type="ObjectSample",
    db_info_path="waymo_dbinfos_train.pkl",
    sample_groups=dict(Vehicle=15, Pedestrian=10, Cyclist=10),
    classes=class_names,
    min_points=dict(Vehicle=5, Pedestrian=5, Cyclist=5),
    num_features=5,
)
train_pipeline = [
    dict(type="LoadPointsFromFile", num_features=5),
    dict(type="LoadAnnotations3D"),
    dict(type="ObjectNameFilter"),
    db_sampler,
    dict(type="RandomFlip3D", flip_ratio_bev_horizontal=0.5, flip_ratio_bev_vertical=0.5),
    dict(type="GlobalRotScaleTrans", rot_range=[-0.78539816, 0.78539816], scale_ratio_range=[0.95, 1.05]),
    dict(type="PointsRangeFilter"),
    dict(type="ObjectRangeFilter"),
    dict(type="PointShuffle"),
    dict(type="Pack3DDetInputs"),
]

# adam_onecycle: LR 0.003, WEIGHT_DECAY 0.01, PCT_START 0.4, DIV_FACTOR 10, MOMS [0.95, 0.85] (onecycle_pct04.py),
# grad clip 10
optim_wrapper = dict(optimizer=dict(weight_decay=0.01))
train_cfg = dict(max_epochs=30, val_interval=30)  # OpenPCDet Waymo CenterPoint: 30 epochs, LR 0.003
train_dataloader = dict(batch_size=4, dataset=dict(point_cloud_range=point_cloud_range, pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(point_cloud_range=point_cloud_range))
test_dataloader = val_dataloader
val_evaluator = dict(type="WaymoMetric", class_names=class_names)
test_evaluator = val_evaluator
