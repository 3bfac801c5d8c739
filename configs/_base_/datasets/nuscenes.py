# nuScenes LiDAR detection, 10 classes, key frame + 9 sweeps (x, y, z, intensity / 255, time lag):
# `voxformer create-data nuscenes --root-path data/nuscenes --out-dir data/nuscenes --version v1.0-trainval`.
# Range [-54, 54] x [-54, 54] x [-5, 3] m as in the DSVT / ScatterFormer / TransFusion-L nuScenes configs
# (a whole number of 0.3 m or 0.075 m voxels); GT sampling and augmentation as OpenPCDet / MMDetection3D
# CenterPoint (docs/references.md §Augmentation); class-balanced (CBGS) resampling of the training frames.
_base_ = ['./lidar_loaders.py']

dataset_type = 'NuScenesDataset'
data_root = 'data/nuscenes/'
class_names = [
    'car', 'truck', 'construction_vehicle', 'bus', 'trailer', 'barrier', 'motorcycle', 'bicycle', 'pedestrian',
    'traffic_cone'
]
point_cloud_range = [-54.0, -54.0, -5.0, 54.0, 54.0, 3.0]
metainfo = dict(classes=class_names)
max_sweeps = 9  # sweeps before the key frame: 10 frames in all

db_sampler = dict(
    type='ObjectSample',
    db_info_path='nuscenes_dbinfos_train.pkl',  # objects cut from the key frame and its sweeps, 5 values a point
    sample_groups=dict(
        car=2, truck=3, construction_vehicle=7, bus=4, trailer=6, barrier=2, motorcycle=6, bicycle=6, pedestrian=2,
        traffic_cone=2),
    classes=class_names,
    min_points=5,
    num_features=5)

train_pipeline = [
    dict(type='LoadNuScenesPoints', max_sweeps=max_sweeps),
    dict(type='LoadAnnotations3D'),
    dict(type='ObjectNameFilter'),  # also drops boxes without LiDAR points (label -1 in NuScenesDataset)
    db_sampler,
    dict(type='RandomFlip3D', flip_ratio_bev_horizontal=0.5, flip_ratio_bev_vertical=0.5),  # x and y flips
    dict(type='GlobalRotScaleTrans', rot_range=[-0.3925, 0.3925], scale_ratio_range=[0.95, 1.05]),  # +-pi/8
    dict(type='PointsRangeFilter'),
    dict(type='ObjectRangeFilter'),
    dict(type='PointShuffle'),
    dict(type='Pack3DDetInputs'),
]
test_pipeline = [
    dict(type='LoadNuScenesPoints', max_sweeps=max_sweeps),
    dict(type='LoadAnnotations3D'),
    dict(type='PointsRangeFilter'),
    dict(type='Pack3DDetInputs'),
]

# what the training and validation datasets share
dataset_args = dict(type=dataset_type, data_root=data_root, metainfo=metainfo, point_cloud_range=point_cloud_range)
train_dataloader = dict(
    batch_size=4,  # per GPU (DSVT / ScatterFormer nuScenes)
    num_workers=4,
    persistent_workers=True,
    dataset=dict(
        _delete_=True,  # the CBGS wrapper replaces the plain dataset of lidar_loaders.py
        type='CBGSDataset',
        dataset=dict(
            dataset_args, ann_file='nuscenes_infos_train.pkl', pipeline=train_pipeline, filter_empty_gt=False)))
val_dataloader = dict(
    num_workers=2, dataset=dict(dataset_args, ann_file='nuscenes_infos_val.pkl', pipeline=test_pipeline))
test_dataloader = val_dataloader
