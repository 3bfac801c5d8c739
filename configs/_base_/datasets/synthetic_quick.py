# The synthetic dataset over a small range around the sensor, for training on a CPU in minutes.
_base_ = ['./synthetic.py']

point_cloud_range = [-25.6, -25.6, -3.0, 25.6, 25.6, 1.0]
train_dataloader = dict(dataset=dict(point_cloud_range=point_cloud_range))
val_dataloader = dict(dataset=dict(point_cloud_range=point_cloud_range))
test_dataloader = val_dataloader
