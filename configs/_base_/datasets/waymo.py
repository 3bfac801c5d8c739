# Waymo Open Dataset v1, single frame, 3 classes, points x, y, z, tanh(intensity), elongation from all five
# lidars and both returns: `voxformer create-data waymo --root-path data/waymo --out-dir data/waymo --workers 8`
# (reads data/waymo/{training,validation}/segment-*.tfrecord).
# Range +-74.88 m, z [-2, 4] as DSVT (468 x 468 pillars of 0.32 m); ScatterFormer uses +-76.8 m (480 x 480).
# GT sampling and augmentation as DSVT / ScatterFormer Waymo (docs/references.md §Augmentation): flips, rotation,
# scaling and a global translation of std 0.5 m per axis. FlatFormer and CenterPoint state their own pipelines.
_base_ = ['./lidar_loaders.py']

dataset_type = 'LidarDetDataset'
data_root = 'data/waymo/'
class_names = ['Vehicle', 'Pedestrian', 'Cyclist']
point_cloud_range = [-74.88, -74.88, -2.0, 74.88, 74.88, 4.0]
metainfo = dict(classes=class_names)

db_sampler = dict(
    type='ObjectSample',
    db_info_path='waymo_dbinfos_train.pkl',
    sample_groups=dict(Vehicle=15, Pedestrian=10, Cyclist=10),
    classes=class_names,
    min_points=dict(Vehicle=5, Pedestrian=10, Cyclist=10),  # DSVT-V Waymo
    num_features=5)

train_pipeline = [
    dict(type='LoadPointsFromFile', num_features=5),  # intensity is stored as tanh already
    dict(type='LoadAnnotations3D'),
    dict(type='ObjectNameFilter'),
    db_sampler,
    dict(type='RandomFlip3D', flip_ratio_bev_horizontal=0.5, flip_ratio_bev_vertical=0.5),  # x and y flips
    dict(  # random_world_rotation, random_world_scaling, random_world_translation (NOISE_TRANSLATE_STD 0.5)
        type='GlobalRotScaleTrans',
        rot_range=[-0.78539816, 0.78539816],
        scale_ratio_range=[0.95, 1.05],
        translation_std=[0.5, 0.5, 0.5]),
    dict(type='PointsRangeFilter'),
    dict(type='ObjectRangeFilter'),
    dict(type='PointShuffle'),
    dict(type='Pack3DDetInputs'),
]
test_pipeline = [
    dict(type='LoadPointsFromFile', num_features=5),
    dict(type='LoadAnnotations3D'),
    dict(type='PointsRangeFilter'),
    dict(type='Pack3DDetInputs'),
]

# what the training and validation datasets share
dataset_args = dict(type=dataset_type, data_root=data_root, metainfo=metainfo, point_cloud_range=point_cloud_range)
train_dataloader = dict(
    batch_size=4,  # per GPU; the published recipes use a total batch of 32 (8 GPUs)
    num_workers=4,
    persistent_workers=True,
    dataset=dict(dataset_args, ann_file='waymo_infos_train.pkl', pipeline=train_pipeline))
val_dataloader = dict(
    num_workers=2, dataset=dict(dataset_args, ann_file='waymo_infos_val.pkl', pipeline=test_pipeline))
test_dataloader = val_dataloader
