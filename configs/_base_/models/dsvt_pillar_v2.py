# DSVT-Pillar (Wang et al., CVPR 2023), Waymo recipe `dsvt_plain_1f_onestage` (docs/references.md §DSVT).
# The grid is stated once, in data_preprocessor; sparse_shape (1, 468, 468) is derived from it.
model = dict(
    type="VoxelDetector",
    data_preprocessor=dict(
        type="VoxelDataPreprocessor",
        voxel_size=[0.32, 0.32, 6.0],  # 0.32 m pillars spanning z
        point_cloud_range=[-74.88, -74.88, -2.0, 74.88, 74.88, 4.0],  # +-74.88 m -> 468 x 468
    ),
    # voxformer's VFE and DSVT (departures from the published ones: configs/dsvt/dsvt_pillar_waymo_v2.py)
    voxel_encoder=dict(type="DynamicPillarVFE", in_channels=5, feat_channels=[192, 192]),  # 2 x 192, LayerNorm
    backbone3d=dict(
        type="DSVT",  # in_channels (192) from the voxel encoder
        channels=192,  # d = 192
        num_heads=8,  # 8 heads
        ffn_channels=384,  # FFN 384
        blocks=[4],  # 1 stage x 4 blocks (8 attention layers)
        set_size=[36],  # tau = 36
        window_shape=[[1, 12, 12]],  # shift-0 window 12 x 12 x 1
        shifted_window_shape=[[1, 24, 24]],  # hybrid factor 2 -> 24 x 24 x 1
        shift=[[0, 6, 6]],  # shifted by a quarter of the big window
    ),
    to_bev=dict(type="PillarScatter"),
    bev_backbone=dict(  # BaseBEVResBackbone: layers [1, 2, 2], strides [1, 2, 2], filters [128, 128, 256]
        type="SECONDBackbone",
        layer_nums=[1, 2, 2],
        layer_strides=[1, 2, 2],
        num_filters=[128, 128, 256],
        block="residual",
    ),
    bev_neck=dict(  # upsample [1, 2, 4] -> 3 x 128
        type="SECONDFPN", out_channels=[128, 128, 128], upsample_strides=[1, 2, 4]
    ),
    head=dict(
        type="CenterHead",  # in_channels (384) from the BEV neck
        class_names=["Car", "Pedestrian", "Cyclist"],
        feature_stride=1,  # head at stride 1
        shared_channels=64,  # shared conv 64
        head_channels=64,
        with_iou=True,  # IoU branch
        code_weights=[1.0] * 8,
        losses=dict(iou_reg=dict(type="DIoULoss")),  # IOU_REG_LOSS: 1 - DIoU of the decoded boxes
        loss_weights=dict(heatmap=1.0, bbox=2.0, iou=1.0, iou_reg=2.0),  # cls 1, loc 2 (also on the DIoU term)
        test_cfg=dict(
            top_k=4096,  # pre 4096
            score_threshold=0.1,
            post_center_range=[-80.0, -80.0, -10.0, 80.0, 80.0, 10.0],
            iou_rectifier=[0.68, 0.71, 0.65],  # rectifier alpha
            nms=dict(type="rotate", iou_threshold=[0.7, 0.6, 0.55], pre_max_size=4096, post_max_size=500),
            max_per_sample=500,  # post 500
        ),
    ),
)
