# nuScenes-lidarseg per-point segmentation, 16 classes (ignore 255), key frames only (no sweeps): `voxformer
# create-data nuscenes --root-path data/nuscenes --out-dir data/nuscenes --version v1.0-trainval --lidarseg`.
# The labels cover every point of the key frame's .pcd.bin (the close points the detection loader drops
# included), so the points are read whole with LoadPointsFromFile: x, y, z, intensity / 255.
# Voxel 0.1 m and at most 120k voxels per training scan: SphereFormer's nuscenes_unet32_spherical_transformer.yaml
# (voxel_size, voxel_max). That config sets no range; [-51.2, 51.2] x [-51.2, 51.2] x [-5, 3] m here is a choice
# (a whole number of 0.1 m voxels; training drops the points outside, validation keeps them).
_base_ = ['./lidar_loaders.py']

dataset_type = 'NuScenesSegDataset'
data_root = 'data/nuscenes/'
point_cloud_range = [-51.2, -51.2, -5.0, 51.2, 51.2, 3.0]
voxel_size = [0.1, 0.1, 0.1]
load_points = dict(type='LoadPointsFromFile', num_features=5, use_dims=[0, 1, 2, 3], intensity='div255')

train_pipeline = [
    load_points,
    dict(type='LoadPointSegLabels'),  # _lidarseg.bin uint8 through the 32 -> 16 learning map
    dict(type='PointsRangeFilter'),
    # SphereFormer's augmentation: z-rotation over +-pi, x / y flips, scale 0.95-1.05, translation N(0, 0.1) m
    dict(type='RandomFlip3D', flip_ratio_bev_horizontal=0.5, flip_ratio_bev_vertical=0.5),
    dict(type='GlobalRotScaleTrans', rot_range=[-3.14159265, 3.14159265], scale_ratio_range=[0.95, 1.05],
         translation_std=[0.1, 0.1, 0.1]),
    dict(type='CropToVoxels', max_voxels=120000, voxel_size=voxel_size),
    dict(type='PointShuffle'),
    dict(type='Pack3DDetInputs'),
]
test_pipeline = [
    load_points,
    dict(type='LoadPointSegLabels'),
    dict(type='Pack3DDetInputs'),
]

dataset_args = dict(type=dataset_type, data_root=data_root, point_cloud_range=point_cloud_range)
train_dataloader = dict(
    batch_size=4,  # per GPU: SphereFormer trains with 16 scans on 4 GPUs
    dataset=dict(_delete_=True, ann_file='nuscenes_infos_train.pkl', pipeline=train_pipeline, **dataset_args))
val_dataloader = dict(
    dataset=dict(_delete_=True, ann_file='nuscenes_infos_val.pkl', pipeline=test_pipeline, test_mode=True,
                 **dataset_args))
test_dataloader = val_dataloader
val_evaluator = dict(type='SegMetric', distance_bins=[20.0, 50.0])
test_evaluator = val_evaluator
