# ScatterFormer (He et al., ECCV 2024), Waymo recipe (docs/references.md §ScatterFormer).
# Differences by design: LayerNorm instead of BatchNorm; a depth-wise 3x3x3 position conv instead of the
# spconv stem; attention pooling (not a strided sparse conv) between the stages; a residual SECOND BEV
# backbone in place of CascadeDED (4 blocks, dim 128).
model = dict(
    type="VoxelDetector",
    data_preprocessor=dict(
        type="VoxelDataPreprocessor",
        voxel_size=[0.32, 0.32, 0.1875],  # 0.32 x 0.32 x 0.1875 m
        point_cloud_range=[-76.8, -76.8, -2.0, 76.8, 76.8, 4.0],  # +-76.8 m, z [-2, 4] -> 480 x 480 x 32
    ),
    voxel_encoder=dict(type="DynamicVFE", in_channels=5, feat_channels=[64, 64]),  # DynamicVoxelVFE 2 x 64
    backbone3d=dict(
        type="ScatterFormer",  # in_channels (64) from the voxel encoder
        channels=128,  # width 128
        num_heads=4,  # 4 heads x 32
        ffn_channels=256,  # FFN C -> 2C
        window_size=12,  # 12 x 12 full-height windows
        layers=[3, 3],  # 2 stages x 3 layers
        downsample_stride=[[2, 2, 2]],  # stride-2 between the stages -> BEV at stride 2 (240 x 240)
    ),
    to_bev=dict(type="PillarScatter"),
    bev_backbone=dict(
        type="SECONDBackbone", layer_nums=[4], layer_strides=[1], num_filters=[128], block="residual"
    ),
    bev_neck=dict(type="SECONDFPN", out_channels=[128], upsample_strides=[1]),
    head=dict(
        type="CenterHead",  # in_channels (128) from the BEV neck
        class_names=["Car", "Pedestrian", "Cyclist"],
        feature_stride=2,  # CenterHead at stride 2
        with_iou=True,  # IoU branch
        loss_weights=dict(heatmap=1.0, bbox=2.0, iou=1.0),
        test_cfg=dict(
            top_k=4096,  # pre 4096
            score_threshold=0.1,
            post_center_range=[-80.0, -80.0, -10.0, 80.0, 80.0, 10.0],
            iou_rectifier=[0.68, 0.71, 0.65],  # rectifier
            nms=dict(type="rotate", iou_threshold=[0.75, 0.6, 0.55], pre_max_size=4096, post_max_size=500),
            max_per_sample=500,  # post 500
        ),
    ),
)
