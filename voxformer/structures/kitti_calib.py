"""KITTI calibration: rectified camera <-> LiDAR transforms and image projection."""

from __future__ import annotations

from pathlib import Path

import numpy as np

_REQUIRED = ("P2", "R0_rect", "Tr_velo_to_cam")


class KittiCalib:
    """Matrices of one KITTI ``calib/*.txt``: ``P2`` (3, 4), ``R0`` (3, 3), ``V2C`` (3, 4)."""

    def __init__(self, P2: np.ndarray, R0: np.ndarray, V2C: np.ndarray):
        self.P2 = np.asarray(P2, dtype=np.float64).reshape(3, 4)
        self.R0 = np.asarray(R0, dtype=np.float64).reshape(3, 3)
        self.V2C = np.asarray(V2C, dtype=np.float64).reshape(3, 4)

    @classmethod
    def from_file(cls, path: str | Path) -> KittiCalib:
        """Parse a calib file; a missing or malformed matrix raises ``ValueError`` naming the file."""
        path = Path(path)
        matrices = {}
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            if not line.strip():
                continue
            key, _, values = line.partition(":")
            try:
                matrices[key.strip()] = np.array([float(v) for v in values.split()])
            except ValueError as error:
                raise ValueError(f"{path}:{number}: cannot parse {key.strip()!r}: {error}") from None
        expected_sizes = {"P2": 12, "R0_rect": 9, "Tr_velo_to_cam": 12}
        for key in _REQUIRED:
            if key not in matrices:
                raise ValueError(f"{path}: calib has no {key} matrix")
            if matrices[key].size != expected_sizes[key]:
                raise ValueError(
                    f"{path}: {key} has {matrices[key].size} numbers, expected {expected_sizes[key]}"
                )
        return cls(matrices["P2"], matrices["R0_rect"], matrices["Tr_velo_to_cam"])

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
