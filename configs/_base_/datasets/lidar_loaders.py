# The data loaders every LiDAR dataset config shares: batching, sampling and collation. A dataset config
# lists this file in `_base_` and fills in `dataset=dict(...)` of `train_dataloader` and `val_dataloader`
# (type, data root, info file, classes, range, pipeline); `test_dataloader` is the validation loader.
train_dataloader = dict(
    batch_size=2,
    num_workers=2,
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(filter_empty_gt=True))
val_dataloader = dict(
    batch_size=1,
    num_workers=1,
    persistent_workers=False,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(test_mode=True))
test_dataloader = val_dataloader
