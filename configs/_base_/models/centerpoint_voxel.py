# CenterPoint-Voxel (Yin et al., CVPR 2021), OpenPCDet Waymo recipe `centerpoint` (docs/references.md §CenterPoint):
# sparse-conv ResNet 8x baseline. Needs spconv.
model = dict(
    type="VoxelDetector",
    data_preprocessor=dict(
        type="VoxelDataPreprocessor",
        voxel_size=[0.1, 0.1, 0.15],  # 0.1 x 0.1 x 0.15 m
        point_cloud_range=[-75.2, -75.2, -2.0, 75.2, 75.2, 4.0],  # +-75.2 m, z [-2, 4] -> 1504 x 1504 x 40
    ),
    # OpenPCDet uses MeanVFE (mean of the points); a one-layer dynamic PointNet of the same width here
    voxel_encoder=dict(type="DynamicVFE", in_channels=5, feat_channels=[16]),
    backbone3d=dict(type="SparseResNet8x", in_channels=16, channels=[16, 32, 64, 128], out_channels=128),
    to_bev=dict(type="HeightCompression"),  # 128 x 2 z cells -> 256 channels
    bev_backbone=dict(  # BaseBEVBackbone: layers [5, 5], strides [1, 2], filters [128, 256]
        type="SECONDBackbone", in_channels=256, layer_nums=[5, 5], layer_strides=[1, 2], num_filters=[128, 256]
    ),
    bev_neck=dict(type="SECONDFPN", in_channels=[128, 256], out_channels=[256, 256], upsample_strides=[1, 2]),
    head=dict(
        type="CenterHead",
        in_channels=512,
        class_names=["Car", "Pedestrian", "Cyclist"],
        feature_stride=8,  # 8x downsampling
        loss_weights=dict(heatmap=1.0, bbox=2.0),
        test_cfg=dict(
            top_k=4096,
            score_threshold=0.1,
            post_center_range=[-80.0, -80.0, -10.0, 80.0, 80.0, 10.0],
            nms=dict(type="rotate", iou_threshold=0.7, pre_max_size=4096, post_max_size=500),  # IoU 0.7
            max_per_sample=500,
        ),
    ),
)
