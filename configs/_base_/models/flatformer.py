# FlatFormer (Liu et al., CVPR 2023), Waymo recipe `flatformer_waymo_D1_2x_3class` (docs/references.md §FlatFormer).
model = dict(
    type="VoxelDetector",
    data_preprocessor=dict(
        type="VoxelDataPreprocessor",
        voxel_size=[0.32, 0.32, 6.0],  # 0.32 m pillars
        point_cloud_range=[-74.88, -74.88, -2.0, 74.88, 74.88, 4.0],  # -> 468 x 468 x 1
        # mmdet3d's dynamic voxelization: float32 cells clamped into the grid, and DynamicScatter drops each
        # sample's smallest (z, y, x) voxel (it expects an out-of-range row there that clamping never makes)
        voxelizer="mmdet3d",
    ),
    # mmdet3d DynamicVFE 5 (+3 cluster, +3 centre) -> [64, 128]: bias-free Linear, naiveSyncBN1d(eps 1e-3,
    # momentum 0.01), ReLU; 17,472 parameters
    voxel_encoder=dict(
        type="DynamicVFEOfficial",
        in_channels=5,
        feat_channels=[64, 128],
        with_cluster_center=True,
        with_voxel_center=True,
    ),
    # released FlatFormer middle encoder, 1,059,840 parameters: C = 128 from the VFE, 8 heads, FFN 2C, GELU;
    # groups of 144 (the released setting, not the paper's 69) over 13 x 13 windows; 2 blocks x 4 layers
    # (x, x-shift, y, y-shift); the released order, last-group padding and position encoding
    backbone3d=dict(
        type="FlatFormerOfficial",
        num_heads=8,
        window_shape=[1, 13, 13],
        group_size=144,
        blocks=2,
    ),
    to_bev=dict(type="PillarScatter"),  # recover_bev: scatter the pillars onto the 468 x 468 canvas
    bev_backbone=dict(  # SECOND(residual=True): layers [3, 3], strides [1, 2], channels [64, 128]
        type="SECONDBackbone",
        layer_nums=[3, 3],
        layer_strides=[1, 2],
        num_filters=[64, 128],
        block="plain_residual",  # identity residual after every conv-BN-ReLU whose shape allows it
        bn_momentum=0.01,  # naiveSyncBN2d(eps 1e-3, momentum 0.01)
    ),
    bev_neck=dict(  # SECONDFPN -> 256 channels at stride 1; a transposed conv at stride 1 too
        type="SECONDFPN", out_channels=[128, 128], upsample_strides=[1, 2], deconv_at_stride_1=True, bn_momentum=0.01
    ),
    # mmdet3d CenterHead of flatformer_waymo_D1_2x_3class (414,606 parameters): shared ConvModule 64 with
    # naiveSyncBN2d(eps 1e-3, momentum 0.01); SeparateHead branches reg, height, dim, rot, vel, iou, heatmap with
    # mmdet3d's default BN2d (eps 1e-5, momentum 0.1); the width comes from the BEV neck
    head=dict(
        type="CenterHead",
        class_names=["Car", "Pedestrian", "Cyclist"],
        feature_stride=1,  # out_size_factor 1
        with_velocity=True,  # the Waymo head has a vel branch, trained with code weight 0 (Waymo boxes have none)
        with_iou=True,  # IoU branch, trained towards the IoU in [0, 1]
        heatmap_last=True,
        box_coder=dict(zero_missing_velocity=True),  # mmdet3d: (vx, vy) targets 0 for 7-dof boxes
        norm_cfg=dict(eps=1e-3, momentum=0.01),
        branch_norm_cfg=dict(eps=1e-5, momentum=0.1),
        code_weights=[1.0] * 8 + [0.0, 0.0],
        loss_weights=dict(heatmap=1.0, bbox=2.0, iou=1.0),  # L1 weight 2, iou_weight 1
        iou_target="unit",
        min_radius=1,  # train_cfg min_radius 1
        test_cfg=dict(
            top_k=4096,  # bbox_coder max_num
            score_threshold=0.1,  # score 0.1, on the rectified heatmap
            post_center_range=[-74.88, -74.88, -10.0, 74.88, 74.88, 10.0],  # the coder's (tighter than test_cfg's)
            iou_power=2,  # iou_pow 2: heatmap <- heatmap * clamp(IoU, 0, 1)^2 ...
            rectify_before_topk=True,  # ... before the top 4096 cells are taken
            nms=dict(
                type="rotate",
                iou_threshold=[0.8, 0.55, 0.55],  # per-class rotated NMS
                pre_max_size=[2048, 1024, 1024],
                post_max_size=[300, 100, 100],
            ),
            max_per_sample=500,  # max_per_img
        ),
    ),
)
