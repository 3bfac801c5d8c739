# ScatterFormer (He et al., ECCV 2024) as published: the network of the official tools/cfgs/waymo_models/
# scatterformer.yaml (docs/references.md §ScatterFormer). The improved variant is scatterformer_v2.py.
model = dict(
    type="VoxelDetector",
    data_preprocessor=dict(
        type="VoxelDataPreprocessor",
        voxel_size=[0.32, 0.32, 0.1875],  # 0.32 x 0.32 x 0.1875 m
        point_cloud_range=[-76.8, -76.8, -2.0, 76.8, 76.8, 4.0],  # +-76.8 m, z [-2, 4] -> 480 x 480 x 32
        voxelizer="spconv",  # DynamicVoxelVFE's cells: floor((p - range_min) / voxel_size) in float32
    ),
    # DynamicVoxelVFE (NUM_FILTERS [64, 64], USE_NORM, absolute xyz, no distance): x, y, z, intensity,
    # elongation + 6 offsets -> 32 per point (+ voxel max) -> 64; BatchNorm; 4,640 parameters
    voxel_encoder=dict(type="PFNDynamicVFE", in_channels=5, feat_channels=[64, 64]),
    # ScatterFormer (FEATURE_DIM 128, WIN_SIZE 12): grid 33 x 480 x 480 (one z cell added), spconv stem
    # (z 33 -> 16), 2 stages x 3 layers (4 SLA heads) joined by a stride-2 sparse conv, attention pillar
    # pool with 33 // 4 = 8 slots -> pillars 240 x 240 (stride 2); 4,241,856 parameters (stem 2,927,360).
    # The input width comes from the VFE.
    backbone3d=dict(type="ScatterFormerOfficial", channels=128, num_heads=4, window_size=12, layers=[3, 3]),
    to_bev=dict(type="HeightCompression"),  # one z cell: 128 channels (widths injected)
    bev_backbone=dict(  # CascadeDEDBackbone: 4 x DED(128, blocks [2, 1, 1], down-strides [1, 2, 2]), momentum 0.01
        type="CascadeDED",
        channels=128,
        num_layers=4,
        num_blocks=[2, 1, 1],
        down_strides=[1, 2, 2],  # the first is ignored: the input already has 128 channels
        bn_momentum=0.01,
    ),
    bev_neck=None,  # CascadeDED returns one map
    # OpenPCDet CenterHead of scatterformer.yaml (302,732 parameters): as DSVT's (shared 3x3 conv 64, BN_EPS 1e-3,
    # BN_MOM 0.01, branches center, center_z, dim, rot, iou, hm, rot channels (cos, sin)) on the 128-channel map
    # of CascadeDED at stride 2; the width comes from the BEV backbone
    head=dict(
        type="CenterHead",
        class_names=["Car", "Pedestrian", "Cyclist"],
        feature_stride=2,  # FEATURE_MAP_STRIDE 2
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
            nms=dict(type="rotate", iou_threshold=[0.75, 0.6, 0.55], pre_max_size=4096, post_max_size=500),
            max_per_sample=500,  # post 500
        ),
    ),
)
