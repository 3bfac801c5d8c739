# DSVT-Pillar, shrunk to train on the synthetic dataset on 2 CPU cores in minutes (`make quickstart`).
# Same architecture as dsvt_pillar_waymo.py; smaller range, width, depth and BEV network.
_base_ = ["../_base_/synthetic_quick.py", "../_base_/models/dsvt_pillar_v2.py"]

point_cloud_range = {{_base_.point_cloud_range}}  # 51.2 x 51.2 m around the sensor
voxel_size = [0.32, 0.32, 4.0]  # 0.32 m pillars -> sparse_shape (1, 160, 160)
width = 64

model = dict(
    data_preprocessor=dict(voxel_size=voxel_size, point_cloud_range=point_cloud_range),
    # x, y, z, intensity; one PointNet layer
    voxel_encoder=dict(in_channels=4, feat_channels=[width], normalize_inputs=True),
    backbone3d=dict(  # in_channels (width) from the voxel encoder
        channels=width,
        num_heads=4,
        ffn_channels=2 * width,
        blocks=[2],  # one 12 x 12 block and one shifted 24 x 24 block
    ),
    bev_backbone=dict(layer_nums=[1, 1], layer_strides=[2, 2], num_filters=[64, 128]),
    bev_neck=dict(out_channels=[64, 64], upsample_strides=[1, 2]),
    head=dict(  # in_channels (128) from the BEV neck
        class_names={{_base_.class_names}},
        feature_stride=2,  # heatmap 80 x 80 (0.64 m cells)
        head_channels=32,
        regression_radius=1,  # train the box branches at the 3 x 3 cells around each centre
        with_heading_axis=True,  # (sin 2 yaw, cos 2 yaw) for a sharp box axis
        code_weights=[1.0] * 10,
        test_cfg={{_base_.head_test_cfg}},
    ),
)
