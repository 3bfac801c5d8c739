# FlatFormer (Liu et al., CVPR 2023), Waymo recipe `flatformer_waymo_D1_2x_3class` (docs/references.md §FlatFormer).
model = dict(
    type="VoxelDetector",
    data_preprocessor=dict(
        type="VoxelDataPreprocessor",
        voxel_size=[0.32, 0.32, 6.0],  # 0.32 m pillars
        point_cloud_range=[-74.88, -74.88, -2.0, 74.88, 74.88, 4.0],  # -> 468 x 468 x 1
    ),
    voxel_encoder=dict(  # DynamicVFE 5 -> [64, 128] with cluster-centre and voxel-centre features
        type="DynamicPillarVFE",
        in_channels=5,
        feat_channels=[64, 128],
        with_cluster_center=True,
        with_voxel_center=True,
    ),
    backbone3d=dict(
        type="FlatFormer",
        channels=128,  # C = 128
        num_heads=8,  # 8 heads (head dim 16)
        ffn_channels=256,  # FFN C -> 2C
        window_shape=[1, 13, 13],  # window 13 x 13 x 1
        group_size=144,  # groups of 144 (the released setting, not the paper's 69)
        blocks=2,  # 2 blocks x 4 layers (x, x-shift, y, y-shift)
    ),
    to_bev=dict(type="PillarScatter"),
    bev_backbone=dict(  # SECOND: layers [3, 3], strides [1, 2], channels [64, 128]
        type="SECONDBackbone", layer_nums=[3, 3], layer_strides=[1, 2], num_filters=[64, 128]
    ),
    bev_neck=dict(  # SECONDFPN -> 256 channels at stride 1
        type="SECONDFPN", out_channels=[128, 128], upsample_strides=[1, 2]
    ),
    head=dict(
        type="CenterHead",  # in_channels (256) from the BEV neck
        class_names=["Car", "Pedestrian", "Cyclist"],
        feature_stride=1,
        with_iou=True,  # IoU branch (the velocity branch needs velocity labels: with_velocity=True)
        loss_weights=dict(heatmap=1.0, bbox=2.0, iou=1.0),  # L1 weight 2, IoU weight 1
        test_cfg=dict(
            top_k=2048,
            score_threshold=0.1,  # score 0.1
            post_center_range=[-80.0, -80.0, -10.0, 80.0, 80.0, 10.0],
            iou_power=2,  # score <- heatmap * IoU^2
            nms=dict(
                type="rotate",
                iou_threshold=[0.8, 0.55, 0.55],  # per-class rotated NMS
                pre_max_size=[2048, 1024, 1024],
                post_max_size=[300, 100, 100],
            ),
            max_per_sample=500,
        ),
    ),
)
