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

# mmdet3d waymo-3d-3class pipeline: GT sampling, flips, rotation and scaling, no global translation
train_pipeline = [
    dict(type="LoadPointsFromFile", num_features=5),
    dict(type="LoadAnnotations3D"),
    dict(type="ObjectNameFilter"),
    {{_base_.db_sampler}},  # Car 15 / Pedestrian 10 / Cyclist 10, at least 5 / 10 / 10 points
    dict(type="RandomFlip3D", flip_ratio_bev_horizontal=0.5, flip_ratio_bev_vertical=0.5),
    dict(type="GlobalRotScaleTrans", rot_range=[-0.78539816, 0.78539816], scale_ratio_range=[0.95, 1.05]),
    dict(type="PointsRangeFilter"),
    dict(type="ObjectRangeFilter"),
    dict(type="PointShuffle"),
    dict(type="Pack3DDetInputs"),
]

# cosine_2x: AdamW betas (0.9, 0.999), WD 0.05 except on the LayerNorms ('norm' in the name: custom_keys), grad
# clip 10; cyclic LR from 1e-5 up to 1e-3 (div 100) over the first 10 % of the iterations, then down to 1e-8
# (final div 1e3); no momentum schedule
lr = 0.001
optim_wrapper = dict(
    optimizer=dict(lr=lr, betas=(0.9, 0.999)),
    paramwise_cfg=dict(custom_keys={"norm": dict(decay_mult=0.0)}),
)
param_scheduler = [
    dict(
        type="CheckpointableOneCycleLR",  # peak = optimizer lr, end = max_epochs
        pct_start=0.1,
        div_factor=100,
        final_div_factor=1e3,
        by_epoch=True,
        convert_to_iter_based=True,
    ),
]
train_dataloader = dict(  # 1 per GPU x 8
    batch_size=1, dataset=dict(point_cloud_range=point_cloud_range, pipeline=train_pipeline)
)
val_dataloader = dict(dataset=dict(point_cloud_range=point_cloud_range))
test_dataloader = val_dataloader
val_evaluator = dict(type="WaymoMetric", class_names=class_names)
test_evaluator = val_evaluator
