# DSVT-Voxel on Waymo, 1 frame: the published recipe `dsvt_3D_1f_onestage` (docs/references.md §DSVT).
# Published: Waymo val mAPH L2 72.1 (3-run average).
_base_ = ["./dsvt_pillar_waymo.py"]

voxel_size = [0.32, 0.32, 0.1875]  # 0.32 x 0.32 x 0.1875 m -> sparse_shape (32, 468, 468)

model = dict(
    data_preprocessor=dict(voxel_size=voxel_size),
    # the same DynPillarVFE3D (2 x 192, BatchNorm), here on voxels; the backbone has 3,133,824 parameters
    backbone3d=dict(
        blocks=[1, 1, 1, 1],  # 4 stages x 1 block (8 attention layers); window configurations 0, 1, 0, 1
        set_size=[48, 48, 48, 48],  # tau = 48
        window_shape=[[32, 12, 12], [8, 12, 12], [2, 12, 12], [1, 12, 12]],
        shifted_window_shape=[[32, 24, 24], [8, 24, 24], [2, 24, 24], [1, 24, 24]],  # x (1, 2, 2)
        shift=[[0, 6, 6], [0, 6, 6], [0, 6, 6], [0, 6, 6]],  # z shift 0: the windows span z
        pool_stride=[[4, 1, 1], [4, 1, 1], [2, 1, 1]],  # z 32 -> 8 -> 2 -> 1 by attention pooling
    ),
)
