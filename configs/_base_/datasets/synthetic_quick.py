# The synthetic dataset over a small forward-looking range, for training on a CPU in minutes.
_base_ = ['./synthetic.py']

point_cloud_range = [0.0, -32.0, -3.0, 64.0, 32.0, 1.0]
train_dataloader = dict(dataset=dict(point_cloud_range=point_cloud_range))
val_dataloader = dict(dataset=dict(point_cloud_range=point_cloud_range))
test_dataloader = val_dataloader
