"""KITTI calibration: rectified camera <-> LiDAR transforms and image projection."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from voxformer.errors import VoxformerError

_REQUIRED = {"P2": 12, "R0_rect": 9, "Tr_velo_to_cam": 12}  # matrix -> number of values
_SINGULAR = 1e-12  # |det| at or below which a rotation cannot be inverted


class KittiCalib:
    """Matrices of one KITTI ``calib/*.txt``: ``P2`` (3, 4), ``R0`` (3, 3), ``V2C`` (3, 4)."""

    def __init__(self, P2: np.ndarray, R0: np.ndarray, V2C: np.ndarray):
        self.P2 = np.asarray(P2, dtype=np.float64).reshape(3, 4)
        self.R0 = np.asarray(R0, dtype=np.float64).reshape(3, 3)
        self.V2C = np.asarray(V2C, dtype=np.float64).reshape(3, 4)

    @classmethod
    def from_file(cls, path: str | Path) -> KittiCalib:
        """Parse a calib file (``KEY: numbers`` lines). An unreadable file, a missing or malformed
        matrix, a non-finite value or a singular rotation raises :class:`VoxformerError` naming the file
        (and the line where one is at fault)."""
        path = Path(path)
        try:
            text = path.read_text()
        except (OSError, UnicodeDecodeError) as error:
            raise VoxformerError(f"{path}: cannot read KITTI calib file ({error})") from None
        matrices, lines = {}, {}
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            key, _, values = line.partition(":")
            try:
                matrices[key.strip()] = np.array([float(v) for v in values.split()])
            except ValueError as error:
                raise VoxformerError(f"{path}:{number}: cannot parse {key.strip()!r}: {error}") from None
            lines[key.strip()] = number
        for key, size in _REQUIRED.items():
            if key not in matrices:
                raise VoxformerError(f"{path}: calib has no {key} matrix")
            where = f"{path}:{lines[key]}: {key}"
            if matrices[key].size != size:
                raise VoxformerError(f"{where} has {matrices[key].size} numbers, expected {size}")
            if not np.isfinite(matrices[key]).all():
                raise VoxformerError(f"{where} holds a non-finite number")
        calib = cls(matrices["P2"], matrices["R0_rect"], matrices["Tr_velo_to_cam"])
        for key, rotation in (("R0_rect", calib.R0), ("Tr_velo_to_cam", calib.V2C[:, :3])):
            if not abs(np.linalg.det(rotation)) > _SINGULAR:
                raise VoxformerError(f"{path}:{lines[key]}: {key} has a singular rotation part")
        return calib

    def lidar_to_rect(self, points: np.ndarray) -> np.ndarray:
        """(N, 3) LiDAR points -> (N, 3) rectified camera coordinates."""
        points = np.asarray(points, dtype=np.float64).reshape(-1, 3)
        cam = points @ self.V2C[:, :3].T + self.V2C[:, 3]
        return cam @ self.R0.T

    def rect_to_lidar(self, points: np.ndarray) -> np.ndarray:
        """(N, 3) rectified camera coordinates -> (N, 3) LiDAR points."""
        points = np.asarray(points, dtype=np.float64).reshape(-1, 3)
        cam = points @ np.linalg.inv(self.R0).T
        rotation, translation = self.V2C[:, :3], self.V2C[:, 3]
        return (cam - translation) @ np.linalg.inv(rotation).T

    def rect_to_image(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(N, 3) rectified points -> (N, 2) pixel coordinates and (N,) depths."""
        points = np.asarray(points, dtype=np.float64).reshape(-1, 3)
        projected = np.concatenate([points, np.ones((len(points), 1))], axis=1) @ self.P2.T
        depth = projected[:, 2]
        return projected[:, :2] / depth[:, None], depth
