# DSVT-Pillar (Wang et al., CVPR 2023), Waymo recipe `dsvt_plain_1f_onestage` (docs/references.md §DSVT).
# The grid is stated once, in data_preprocessor; sparse_shape (1, 468, 468) is derived from it.
model = dict(
    type="VoxelDetector",
    data_preprocessor=dict(
        type="VoxelDataPreprocessor",
        voxel_size=[0.32, 0.32, 6.0],  # 0.32 m pillars spanning z
        point_cloud_range=[-74.88, -74.88, -2.0, 74.88, 74.88, 4.0],  # +-74.88 m -> 468 x 468
        # DynPillarVFE3D's cells: floor((p - range_min) / voxel_size) in float32, out-of-grid points dropped
        voxelizer="spconv",
    ),
    # DynPillarVFE3D, NUM_FILTERS [192, 192]: 11 -> 96 (+ voxel max) -> 192, BatchNorm; 38,496 parameters
    voxel_encoder=dict(type="PFNDynamicVFE", in_channels=5, feat_channels=[192, 192]),
    backbone3d=dict(  # the published DSVT, upstream quirks included; 2,684,928 parameters
        type="DSVTOfficial",  # in_channels comes from the voxel encoder
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
        entry_projection=True,  # BasicBlock(downsample=True) opens every stage, also at equal width and stride 1
        bn_momentum=0.01,  # BatchNorm2d(eps 1e-3, momentum 0.01)
    ),
    bev_neck=dict(  # its deblocks: upsample [1, 2, 4] -> 3 x 128, transposed convs at stride 1 too
        type="SECONDFPN",
        out_channels=[128, 128, 128],
        upsample_strides=[1, 2, 4],
        deconv_at_stride_1=True,
        bn_momentum=0.01,
    ),
    # OpenPCDet CenterHead of dsvt_plain_1f_onestage / dsvt_3D_1f_onestage (450,188 parameters): shared 3x3 conv
    # 64 + per branch one conv-BN-ReLU and a 3x3 conv; BN_EPS 1e-3, BN_MOM 0.01; branches in the official order
    # center, center_z, dim, rot, iou, hm; rot channels (cos, sin); the width comes from the BEV neck
    head=dict(
        type="CenterHead",
        class_names=["Car", "Pedestrian", "Cyclist"],
        feature_stride=1,  # head at stride 1
        shared_channels=64,  # SHARED_CONV_CHANNEL 64
        head_channels=64,
        with_iou=True,  # IoU branch
        heatmap_last=True,
        box_coder=dict(rot_order="cos_sin"),
        norm_cfg=dict(eps=1e-3, momentum=0.01),
        code_weights=[1.0] * 8,
        losses=dict(iou_reg=dict(type="DIoULoss")),  # IOU_REG_LOSS: 1 - DIoU of the decoded boxes
        loss_weights=dict(heatmap=1.0, bbox=2.0, iou=1.0, iou_reg=2.0),  # cls 1, loc 2 (also on the DIoU term)
        test_cfg=dict(
            top_k=500,  # MAX_OBJ_PER_SAMPLE: the top 500 heatmap cells go to NMS
            score_threshold=0.1,
            post_center_range=[-80.0, -80.0, -10.0, 80.0, 80.0, 10.0],
            iou_rectifier=[0.68, 0.71, 0.65],  # USE_IOU_TO_RECTIFY_SCORE, IOU_RECTIFIER
            nms=dict(type="rotate", iou_threshold=[0.7, 0.6, 0.55], pre_max_size=4096, post_max_size=500),
            max_per_sample=500,  # post 500
        ),
    ),
)
