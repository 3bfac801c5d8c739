# FlatFormer shrunk to train on the synthetic dataset on 2 CPU cores in minutes.
# Same architecture as flatformer_waymo.py; smaller range, width, depth and BEV network.
_base_ = [
    "../_base_/datasets/synthetic_quick.py",
    "../_base_/models/flatformer.py",
    "../_base_/schedules/quick_cpu.py",
    "../_base_/default_runtime.py",
]

point_cloud_range = [0.0, -32.0, -3.0, 64.0, 32.0, 1.0]  # forward-looking 64 x 64 m
voxel_size = [0.32, 0.32, 4.0]  # -> sparse_shape (1, 200, 200)
class_names = ["Car", "Pedestrian", "Cyclist"]
width = 64

model = dict(
    data_preprocessor=dict(voxel_size=voxel_size, point_cloud_range=point_cloud_range),
    voxel_encoder=dict(in_channels=4, feat_channels=[width]),  # x, y, z, intensity; one PointNet layer
    backbone3d=dict(in_channels=width, channels=width, num_heads=4, ffn_channels=2 * width, blocks=1, group_size=64),
    bev_backbone=dict(in_channels=width, layer_nums=[1, 1], layer_strides=[2, 2], num_filters=[64, 128]),
    bev_neck=dict(in_channels=[64, 128], out_channels=[64, 64], upsample_strides=[1, 2]),
    head=dict(
        in_channels=128,
        class_names=class_names,
        feature_stride=2,
        head_channels=32,
        test_cfg=dict(
            top_k=500,
            post_center_range=[-1.0, -33.0, -5.0, 65.0, 33.0, 3.0],
            nms=dict(type="rotate", iou_threshold=[0.7, 0.6, 0.55], pre_max_size=1000, post_max_size=100),
            max_per_sample=100,
        ),
    ),
)

train_dataloader = dict(batch_size=2, num_workers=1)
val_dataloader = dict(num_workers=1)
test_dataloader = val_dataloader
val_evaluator = dict(type="SyntheticMetric", class_names=class_names)
test_evaluator = val_evaluator
default_hooks = dict(logger=dict(interval=10), checkpoint=dict(interval=4))
