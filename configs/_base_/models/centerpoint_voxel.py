# CenterPoint-Voxel (Yin et al., CVPR 2021), OpenPCDet Waymo recipe `centerpoint` (docs/references.md §CenterPoint):
# sparse-conv ResNet 8x baseline. Needs spconv.
model = dict(
    type="VoxelDetector",
    data_preprocessor=dict(
        type="VoxelDataPreprocessor",
        voxel_size=[0.1, 0.1, 0.15],  # 0.1 x 0.1 x 0.15 m
        point_cloud_range=[-75.2, -75.2, -2.0, 75.2, 75.2, 4.0],  # +-75.2 m, z [-2, 4] -> 1504 x 1504 x 40
        voxelizer="spconv",  # OpenPCDet's voxel generator (spconv PointToVoxel): float32 cells
    ),
    # MeanVFE: mean of each voxel's first 5 points (x, y, z, intensity, elongation); at most 150k voxels per
    # sample, first come first served (OpenPCDet MAX_POINTS_PER_VOXEL 5, MAX_NUMBER_OF_VOXELS 150000 train/test)
    voxel_encoder=dict(type="MeanVFE", in_channels=5, max_points_per_voxel=5, max_voxels=150000),
    # VoxelResBackBone8x: its residual blocks' convs have a bias (OpenPCDet's default USE_BIAS); the input
    # width comes from the VFE; 41 x 1504 x 1504 grid -> 2 x 188 x 188
    backbone3d=dict(type="SparseResNet8x", channels=[16, 32, 64, 128], out_channels=128, block_bias=True),
    to_bev=dict(type="HeightCompression"),  # 128 x 2 z cells -> 256 channels (widths injected)
    bev_backbone=dict(  # BaseBEVBackbone: layers [5, 5], strides [1, 2], filters [128, 256], BN momentum 0.01
        type="SECONDBackbone", layer_nums=[5, 5], layer_strides=[1, 2], num_filters=[128, 256], bn_momentum=0.01
    ),
    bev_neck=dict(  # its deblocks: upsample [1, 2] -> 2 x 256, transposed convs at stride 1 too
        type="SECONDFPN", out_channels=[256, 256], upsample_strides=[1, 2], deconv_at_stride_1=True, bn_momentum=0.01
    ),
    # OpenPCDet CenterHead of waymo_models/centerpoint.yaml: USE_BIAS_BEFORE_NORM (conv biases before the BNs),
    # PyTorch's BN defaults, branches center, center_z, dim, rot, hm, rot channels (cos, sin); the width comes
    # from the BEV neck
    head=dict(
        type="CenterHead",
        class_names=["Car", "Pedestrian", "Cyclist"],
        feature_stride=8,  # 8x downsampling
        heatmap_last=True,
        box_coder=dict(rot_order="cos_sin"),
        conv_bias=True,
        code_weights=[1.0] * 8,
        loss_weights=dict(heatmap=1.0, bbox=2.0),  # cls 1, loc 2
        test_cfg=dict(
            top_k=500,  # MAX_OBJ_PER_SAMPLE
            score_threshold=0.1,
            post_center_range=[-75.2, -75.2, -2.0, 75.2, 75.2, 4.0],  # POST_CENTER_LIMIT_RANGE
            # nms_gpu, class-agnostic: IoU 0.7, pre 4096, post 500
            nms=dict(type="rotate", class_agnostic=True, iou_threshold=0.7, pre_max_size=4096, post_max_size=500),
            max_per_sample=500,
        ),
    ),
)
