# ScatterFormer shrunk to train on the synthetic dataset on 2 CPU cores in minutes.
# Same architecture as scatterformer_waymo.py; smaller range, coarser z, width and depth.
_base_ = ["../_base_/synthetic_quick.py", "../_base_/models/scatterformer_v2.py"]

point_cloud_range = {{_base_.point_cloud_range}}  # 51.2 x 51.2 m around the sensor
voxel_size = [0.32, 0.32, 0.5]  # -> sparse_shape (8, 160, 160)
width = 64

model = dict(
    data_preprocessor=dict(voxel_size=voxel_size, point_cloud_range=point_cloud_range),
    # x, y, z, intensity; one PointNet layer
    voxel_encoder=dict(in_channels=4, feat_channels=[32], normalize_inputs=True),
    backbone3d=dict(  # in_channels (32) from the voxel encoder
        channels=width,
        num_heads=2,
        ffn_channels=2 * width,
        window_size=12,
        layers=[1, 1],
        downsample_stride=[[2, 2, 2]],  # BEV at stride 2 (100 x 100)
    ),
    bev_backbone=dict(layer_nums=[1], layer_strides=[1], num_filters=[64]),
    bev_neck=dict(out_channels=[64], upsample_strides=[1]),
    head=dict(  # in_channels (64) from the BEV neck
        class_names={{_base_.class_names}},
        feature_stride=2,
        head_channels=32,
        regression_radius=1,  # train the box branches at the 3 x 3 cells around each centre
        with_heading_axis=True,  # (sin 2 yaw, cos 2 yaw) for a sharp box axis
        code_weights=[1.0] * 10,
        test_cfg={{_base_.head_test_cfg}},
    ),
)
