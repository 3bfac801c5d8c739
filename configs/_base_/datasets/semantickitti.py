# SemanticKITTI per-point segmentation, 19 classes (ignore 255):
# `voxformer create-data semantickitti --root-path data/semantickitti --out-dir data/semantickitti`.
# Splits: train 00-07, 09, 10; val 08; test 11-21 (semantic-kitti.yaml). Range [-51.2, 51.2] x [-51.2, 51.2] x
# [-4, 2.4] m, voxel 0.05 m and at most 120k voxels per training scan, cropped around a random seed point:
# SphereFormer's semantic_kitti_unet32_spherical_transformer.yaml (pc_range, voxel_size, voxel_max).
# SphereFormer clips the coordinates of points outside the range instead of dropping them; here training drops
# them and validation keeps every point (scored on the original points), the model classifying those outside.
_base_ = ['./lidar_loaders.py']

dataset_type = 'SemanticKittiDataset'
data_root = 'data/semantickitti/'
point_cloud_range = [-51.2, -51.2, -4.0, 51.2, 51.2, 2.4]
voxel_size = [0.05, 0.05, 0.05]

train_pipeline = [
    dict(type='LoadPointsFromFile', num_features=4),  # x, y, z, remission 0-1
    dict(type='LoadPointSegLabels'),  # .label lower 16 bits through the learning map
    dict(type='PointsRangeFilter'),
    # SphereFormer's augmentation: z-rotation over +-pi, one of four flips (none, x, y, both), scale 0.95-1.05
    # (SphereFormer scales x and y only; here all axes), translation N(0, 0.1) m per axis
    dict(type='RandomFlip3D', flip_ratio_bev_horizontal=0.5, flip_ratio_bev_vertical=0.5),
    dict(type='GlobalRotScaleTrans', rot_range=[-3.14159265, 3.14159265], scale_ratio_range=[0.95, 1.05],
         translation_std=[0.1, 0.1, 0.1]),
    dict(type='CropToVoxels', max_voxels=120000, voxel_size=voxel_size),
    dict(type='PointShuffle'),
    dict(type='Pack3DDetInputs'),
]
test_pipeline = [
    dict(type='LoadPointsFromFile', num_features=4),
    dict(type='LoadPointSegLabels'),
    dict(type='Pack3DDetInputs'),
]

dataset_args = dict(type=dataset_type, data_root=data_root, point_cloud_range=point_cloud_range)
train_dataloader = dict(
    batch_size=2,  # per GPU: SphereFormer trains with 8 scans on 4 GPUs
    dataset=dict(_delete_=True, ann_file='semantickitti_infos_train.pkl', pipeline=train_pipeline, **dataset_args))
val_dataloader = dict(
    dataset=dict(_delete_=True, ann_file='semantickitti_infos_val.pkl', pipeline=test_pipeline, test_mode=True,
                 **dataset_args))
test_dataloader = val_dataloader
val_evaluator = dict(type='SegMetric', distance_bins=[20.0, 50.0])  # SphereFormer's near / mid / far bins
test_evaluator = val_evaluator
