# DSVT-Pillar on nuScenes (docs/references.md §DSVT). Published: val mAP 66.4 / NDS 71.1 with a
# TransFusion head; here the CenterPoint head with nuScenes' six task groups and velocity.
_base_ = [
    "../_base_/datasets/nuscenes.py",
    "../_base_/models/dsvt_pillar.py",
    "../_base_/schedules/onecycle_pct04.py",
    "../_base_/default_runtime.py",
]

point_cloud_range = [-54.0, -54.0, -5.0, 54.0, 54.0, 3.0]  # [-54, -54, -5, 54, 54, 3]
voxel_size = [0.3, 0.3, 8.0]  # 0.3 x 0.3 x 8 -> 360 x 360 x 1
class_names = [
    "car",
    "truck",
    "construction_vehicle",
    "bus",
    "trailer",
    "barrier",
    "motorcycle",
    "bicycle",
    "pedestrian",
    "traffic_cone",
]
width = 128  # d = 128

model = dict(
    data_preprocessor=dict(voxel_size=voxel_size, point_cloud_range=point_cloud_range),
    voxel_encoder=dict(in_channels=5, feat_channels=[width, width]),  # x, y, z, i, dt; pillar VFE 2 x 128
    backbone3d=dict(  # the published DSVT (DSVTOfficial); in_channels comes from the voxel encoder
        channels=width,
        num_heads=8,  # 8 heads
        ffn_channels=256,  # FFN 256
        blocks=[4],  # 4 blocks
        set_size=[90],  # tau = 90
        window_shape=[[1, 30, 30]],  # window 30 x 30 x 1
        shifted_window_shape=[[1, 30, 30]],  # hybrid factor 1
        shift=[[0, 15, 15]],  # shift (15, 15, 0)
    ),
    bev_neck=dict(upsample_strides=[0.5, 1, 2]),  # BEV output stride 2 (180 x 180)
    head=dict(
        class_names=class_names,
        tasks=[  # CenterPoint's nuScenes task groups
            ["car"],
            ["truck", "construction_vehicle"],
            ["bus", "trailer"],
            ["barrier"],
            ["motorcycle", "bicycle"],
            ["pedestrian", "traffic_cone"],
        ],
        feature_stride=2,
        with_velocity=True,
        with_iou=False,
        code_weights=[1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.2, 0.2],  # velocity weight 0.2
        loss_weights=dict(heatmap=1.0, bbox=0.25),  # mmdet3d L1 weight 0.25
        losses=dict(iou_reg=None),  # mmdet3d's CenterPoint has no DIoU term (DSVT's Waymo head has)
        test_cfg=dict(
            top_k=1000,
            post_center_range=[-61.2, -61.2, -10.0, 61.2, 61.2, 10.0],
            iou_rectifier=None,
            # circle NMS radii per task [4, 12, 10, 1, 0.85, 0.175] m (mmdet3d CenterPoint nuScenes)
            nms=dict(  # replaces the base's rotated NMS entirely
                _delete_=True,
                type="circle",
                distance_threshold=[4, 12, 12, 10, 10, 1, 0.85, 0.85, 0.175, 0.175],
                post_max_size=83,
            ),
            max_per_sample=500,
        ),
    ),
)

lr = 0.005  # LR 0.005
optim_wrapper = dict(optimizer=dict(lr=lr), clip_grad=dict(max_norm=35))  # grad clip 35
# adam_onecycle: pct_start 0.4, div 10, MOMS [0.95, 0.85] (onecycle_pct04.py), 20 epochs
train_cfg = dict(max_epochs=20, val_interval=20)  # 20 epochs
train_dataloader = dict(batch_size=4)  # 4 per GPU; the dataset config's range is the same
val_evaluator = dict(type="NuScenesMetric", class_names=class_names)
test_evaluator = val_evaluator
