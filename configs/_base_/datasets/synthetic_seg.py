# The synthetic LiDAR dataset with per-point labels (`voxformer create-data synthetic --out-dir data/synthetic`
# writes labels/NNNNNN.label next to the scans): SemanticKITTI's 19-class learning space (ignore 255), of
# which the synthetic world lacks motorcycle, truck, other-vehicle, motorcyclist and other-ground; the
# metric leaves those out of the mIoU (the dataset's `absent_seg_classes`).
# Training drops points outside the range; validation keeps every point (scored on the original points),
# so the model must give a class to points outside its grid too.
_base_ = ['./lidar_loaders.py']

dataset_type = 'SyntheticSegDataset'
data_root = 'data/synthetic/'
point_cloud_range = [-51.2, -51.2, -4.0, 51.2, 51.2, 2.4]

train_pipeline = [
    dict(type='LoadPointsFromFile', num_features=4),  # x, y, z, intensity 0-1
    dict(type='LoadPointSegLabels'),  # the dataset's label format (SemanticKITTI .label)
    dict(type='PointsRangeFilter'),
    # SphereFormer's segmentation augmentation: z-rotation over +-pi, x and y flips, scale 0.95-1.05 (SphereFormer
    # scales x and y only; here all three axes), translation N(0, 0.1) m per axis
    dict(type='RandomFlip3D', flip_ratio_bev_horizontal=0.5, flip_ratio_bev_vertical=0.5),
    dict(type='GlobalRotScaleTrans', rot_range=[-3.14159265, 3.14159265], scale_ratio_range=[0.95, 1.05],
         translation_std=[0.1, 0.1, 0.1]),
    dict(type='PointShuffle'),
    dict(type='Pack3DDetInputs'),
]
test_pipeline = [
    dict(type='LoadPointsFromFile', num_features=4),
    dict(type='LoadPointSegLabels'),
    dict(type='Pack3DDetInputs'),
]

# what the training and validation datasets share
dataset_args = dict(type=dataset_type, data_root=data_root, point_cloud_range=point_cloud_range)
train_dataloader = dict(
    dataset=dict(_delete_=True, ann_file='synthetic_infos_train.pkl', pipeline=train_pipeline, **dataset_args))
val_dataloader = dict(
    dataset=dict(_delete_=True, ann_file='synthetic_infos_val.pkl', pipeline=test_pipeline, test_mode=True,
                 **dataset_args))
test_dataloader = val_dataloader
val_evaluator = dict(type='SegMetric', distance_bins=[20.0, 50.0])  # mIoU, IoU/<class>, mIoU/<=20m, ...
test_evaluator = val_evaluator
