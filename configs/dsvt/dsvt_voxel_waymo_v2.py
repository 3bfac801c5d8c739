# DSVT-Voxel on Waymo, voxformer's variant: dsvt_voxel_waymo.py (the published recipe) with voxformer's
# voxel encoder and DSVT backbone. Departures from the published network, and why (see also
# dsvt_pillar_waymo_v2.py for the ones shared with the pillar variant):
# - Voxel encoder `DynamicVFE`: LayerNorm layers at full width instead of BatchNorm at half width.
# - Backbone `DSVT`: position embeddings by the block's window configuration, no nested residual norms,
#   PyTorch default initialization (as in dsvt_pillar_waymo_v2.py).
# - Attention pooling between stages: the query is the max over the *occupied* slots of a pooling cell and
#   empty slots are masked (upstream takes the max over all slots, zero-filled ones included, so a cell
#   with an empty slot never has a negative query channel, and lets the zeros take part in the attention).
# Voxel encoder 76,608 and backbone 2,976,576 parameters, where the published ones have 38,496 and 3,133,824.
_base_ = ["./dsvt_voxel_waymo.py"]

model = dict(
    voxel_encoder=dict(type="DynamicVFE"),  # same in_channels / feat_channels
    backbone3d=dict(type="DSVT"),  # same stages, windows, sets, shifts and pool strides
)
