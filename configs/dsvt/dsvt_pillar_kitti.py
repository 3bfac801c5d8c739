# DSVT-Pillar on KITTI. There is no published DSVT KITTI recipe: the Waymo architecture at width 128
# on KITTI's usual forward range with 0.32 m pillars (216 x 248), 80 epochs as OpenPCDet's KITTI models.
_base_ = [
    "../_base_/datasets/kitti.py",
    "../_base_/models/dsvt_pillar.py",
    "../_base_/schedules/onecycle_24e.py",
    "../_base_/default_runtime.py",
]

point_cloud_range = [0.0, -39.68, -3.0, 69.12, 39.68, 1.0]  # PointPillars' KITTI range, whole 0.32 m pillars
voxel_size = [0.32, 0.32, 4.0]
class_names = ["Car", "Pedestrian", "Cyclist"]
width = 128

model = dict(
    data_preprocessor=dict(voxel_size=voxel_size, point_cloud_range=point_cloud_range),
    voxel_encoder=dict(in_channels=4, feat_channels=[width, width]),  # x, y, z, intensity
    backbone3d=dict(channels=width, ffn_channels=2 * width),  # the published DSVT (DSVTOfficial) at width 128
    head=dict(
        class_names=class_names,
        test_cfg=dict(post_center_range=[-10.0, -50.0, -10.0, 80.0, 50.0, 10.0]),
    ),
)

train_cfg = dict(max_epochs=80, val_interval=10)
train_dataloader = dict(batch_size=4, dataset=dict(point_cloud_range=point_cloud_range))
val_dataloader = dict(dataset=dict(point_cloud_range=point_cloud_range))
test_dataloader = val_dataloader
val_evaluator = dict(type="KittiMetric", class_names=class_names)
test_evaluator = val_evaluator
