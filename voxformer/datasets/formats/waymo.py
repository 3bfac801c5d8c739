r"""Waymo Open Dataset v1 frames: range images to points, laser labels to boxes.

Frames come from ``segment-*.tfrecord`` files (see :mod:`.tfrecord`) and parse with the proto
subset of :mod:`.waymo_frame_proto`. Everything is in the **vehicle frame** (x forward, y left,
z up), which is our LiDAR frame for Waymo.

Range image conventions (the official toolkit's, restated)::

    image (H, W, 4) float32: range (m, <= 0 means no return), intensity, elongation, in-no-label-zone
    row r       -> inclination incl[H - 1 - r]      (row 0 is the HIGHEST beam; the table is ascending)
    column c    -> azimuth ((W - c - 0.5) / W * 2 - 1) * pi - atan2(E[1, 0], E[0, 0])
                   (column 0 looks backwards at +pi, the centre column along the laser's +x, columns run clockwise)
    laser point =  range * (cos(incl) cos(az), cos(incl) sin(az), sin(incl));  vehicle point = E @ laser point

E is the laser's extrinsic (4x4, laser -> vehicle). The TOP lidar may carry a per-pixel vehicle pose
(roll, pitch, yaw, x, y, z: vehicle -> world when that pixel fired); with it, each point is moved to
the world and back with the frame pose, which undoes the rolling-shutter motion.

Points are float32 (N, 5): x, y, z, tanh(intensity), elongation.
Labels become boxes (x, y, z, length, width, height, heading) at the gravity centre, heading wrapped
to [-pi, pi), with names, per-box lidar point counts, the labelled detection difficulty (0 = unknown,
1 = LEVEL_1, 2 = LEVEL_2), velocity (speed_x, speed_y) and track ids.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass

import numpy as np

from voxformer.errors import VoxformerError

from .waymo_frame_proto import LASER_NAMES, frame_messages

CLASS_NAMES = {1: "Vehicle", 2: "Pedestrian", 3: "Sign", 4: "Cyclist"}
LASER_IDS = {name: number for number, name in LASER_NAMES.items()}
POINT_FEATURES = ("x", "y", "z", "intensity", "elongation")
RANGE_IMAGE_CHANNELS = 4


class WaymoDataError(VoxformerError):
    """A frame lacks what was asked of it (a laser's data, a calibration) or carries malformed data."""


@dataclass
class WaymoLabels:
    """Laser labels of one frame as arrays, N = number of labels (unknown types are dropped)."""

    boxes: np.ndarray  # (N, 7) float32, vehicle frame, gravity centre
    names: np.ndarray  # (N,) str
    num_points: np.ndarray  # (N,) int32, num_lidar_points_in_box
    num_top_points: np.ndarray  # (N,) int32, num_top_lidar_points_in_box
    difficulty: np.ndarray  # (N,) int32, detection_difficulty_level as labelled
    velocity: np.ndarray  # (N, 2) float32, speed_x, speed_y (m/s)
    ids: np.ndarray  # (N,) str track ids


def decode_matrix(compressed: bytes, what: str = "matrix") -> np.ndarray:
    """zlib-compressed serialized ``MatrixFloat`` -> float32 array of its declared shape."""
    from google.protobuf.message import DecodeError

    try:
        message = frame_messages()["MatrixFloat"].FromString(zlib.decompress(compressed))
    except (zlib.error, DecodeError) as error:
        raise WaymoDataError(f"{what}: not a zlib-compressed MatrixFloat ({error})") from error
    data = np.asarray(message.data, dtype=np.float32)
    shape = tuple(message.shape.dims)
    if math.prod(shape) != data.size:
        raise WaymoDataError(f"{what}: {data.size} values do not fill the declared shape {shape}")
    return data.reshape(shape)


def encode_matrix(array: np.ndarray) -> bytes:
    """Inverse of :func:`decode_matrix`: a float array -> zlib-compressed serialized ``MatrixFloat``."""
    message = frame_messages()["MatrixFloat"]()
    message.data.extend(np.asarray(array, dtype=np.float32).ravel().tolist())
    message.shape.dims.extend(array.shape)
    return zlib.compress(message.SerializeToString())


def beam_inclinations(calibration, height: int) -> np.ndarray:
    """(height,) float64 inclinations in radians, ascending (bottom beam first).

    The calibration's table when it has one (TOP); otherwise ``height`` beams spread uniformly over
    [beam_inclination_min, beam_inclination_max], each at the centre of its share.
    """
    table = np.asarray(calibration.beam_inclinations, dtype=np.float64)
    if table.size:
        if table.size != height:
            laser = LASER_NAMES.get(calibration.name, calibration.name)
            raise WaymoDataError(f"laser {laser}: {table.size} beam inclinations for a range image of {height} rows")
        return table
    low, high = calibration.beam_inclination_min, calibration.beam_inclination_max
    return low + (np.arange(height) + 0.5) / height * (high - low)


def _rotation_from_euler(roll: np.ndarray, pitch: np.ndarray, yaw: np.ndarray) -> np.ndarray:
    """(..., 3, 3) rotations R = Rz(yaw) @ Ry(pitch) @ Rx(roll)."""
    cr, sr, cp, sp, cy, sy = np.cos(roll), np.sin(roll), np.cos(pitch), np.sin(pitch), np.cos(yaw), np.sin(yaw)
    rows = [
        [cy * cp, cy * sp * sr - sy * cr, cy * sp * cr + sy * sr],
        [sy * cp, sy * sp * sr + cy * cr, sy * sp * cr - cy * sr],
        [-sp, cp * sr, cp * cr],
    ]
    return np.stack([np.stack(row, axis=-1) for row in rows], axis=-2)


def range_image_to_points(
    range_image: np.ndarray,
    inclinations: np.ndarray,
    extrinsic: np.ndarray,
    pixel_pose: np.ndarray | None = None,
    frame_pose: np.ndarray | None = None,
) -> np.ndarray:
    """Valid pixels of a range image -> float32 (N, 3 + C - 1) points: x, y, z, then channels 1.. of the image.

    ``range_image`` (H, W, C) with range first; ``inclinations`` (H,) ascending radians; ``extrinsic``
    (4, 4) laser -> vehicle. ``pixel_pose`` (H, W, 6) and ``frame_pose`` (4, 4), both or neither,
    compensate the rolling shutter (module docstring). Points come in row-major pixel order.
    """
    height, width = range_image.shape[:2]
    extrinsic = np.asarray(extrinsic, dtype=np.float64)
    azimuth_offset = math.atan2(extrinsic[1, 0], extrinsic[0, 0])
    azimuth = ((width - np.arange(width) - 0.5) / width * 2 - 1) * math.pi - azimuth_offset
    inclination = np.asarray(inclinations, dtype=np.float64)[::-1]
    rows, cols = np.nonzero(range_image[..., 0] > 0)
    distance = range_image[rows, cols, 0].astype(np.float64)
    horizontal = distance * np.cos(inclination)[rows]  # trigonometry once per row and column, not per point
    laser = np.stack(
        [horizontal * np.cos(azimuth)[cols], horizontal * np.sin(azimuth)[cols], distance * np.sin(inclination)[rows]],
        axis=1,
    )
    xyz = laser @ extrinsic[:3, :3].T + extrinsic[:3, 3]
    if pixel_pose is not None:
        pose = pixel_pose[rows, cols].astype(np.float64)
        rotation = _rotation_from_euler(pose[:, 0], pose[:, 1], pose[:, 2])
        world = np.einsum("nij,nj->ni", rotation, xyz) + pose[:, 3:6]
        frame_pose = np.asarray(frame_pose, dtype=np.float64)
        xyz = (world - frame_pose[:3, 3]) @ frame_pose[:3, :3]
    features = range_image[rows, cols, 1:]
    return np.concatenate([xyz.astype(np.float32), features.astype(np.float32)], axis=1)


def parse_frame(payload: bytes):
    """One TFRecord payload -> the ``Frame`` message (subset of :mod:`.waymo_frame_proto`)."""
    from google.protobuf.message import DecodeError

    try:
        return frame_messages()["Frame"].FromString(payload)
    except DecodeError as error:
        raise WaymoDataError(f"record is not a Waymo v1 Frame ({error})") from error


def frame_name(frame) -> str:
    """``<context name>_<timestamp_micros>``: a unique, stable id of a frame."""
    return f"{frame.context.name}_{frame.timestamp_micros}"


def frame_pose(frame) -> np.ndarray:
    """(4, 4) float64 vehicle -> world pose of the frame (identity when the frame has none)."""
    values = np.asarray(frame.pose.transform, dtype=np.float64)
    return values.reshape(4, 4) if values.size == 16 else np.eye(4)


def frame_labels(frame) -> WaymoLabels:
    """The frame's laser labels of known type (see :class:`WaymoLabels`)."""
    labels = [label for label in frame.laser_labels if label.type in CLASS_NAMES]
    boxes = np.array(
        [
            [
                lb.box.center_x,
                lb.box.center_y,
                lb.box.center_z,
                lb.box.length,
                lb.box.width,
                lb.box.height,
                lb.box.heading,
            ]
            for lb in labels
        ],
        dtype=np.float64,
    ).reshape(-1, 7)
    boxes[:, 6] = np.remainder(boxes[:, 6] + math.pi, 2 * math.pi) - math.pi
    return WaymoLabels(
        boxes=boxes.astype(np.float32),
        names=np.array([CLASS_NAMES[lb.type] for lb in labels], dtype="<U10"),
        num_points=np.array([lb.num_lidar_points_in_box for lb in labels], dtype=np.int32),
        num_top_points=np.array([lb.num_top_lidar_points_in_box for lb in labels], dtype=np.int32),
        difficulty=np.array([lb.detection_difficulty_level for lb in labels], dtype=np.int32),
        velocity=np.array([[lb.metadata.speed_x, lb.metadata.speed_y] for lb in labels], dtype=np.float32).reshape(
            -1, 2
        ),
        ids=np.array([lb.id for lb in labels], dtype=str),
    )


def _laser_calibration(frame, laser_id: int):
    for calibration in frame.context.laser_calibrations:
        if calibration.name == laser_id:
            return calibration
    raise WaymoDataError(f"frame {frame_name(frame)}: no calibration for laser {LASER_NAMES[laser_id]}")


def _describe_lasers(frame) -> str:
    if not frame.lasers:
        return "the frame carries no laser data at all (labels and calibrations only)"
    present = [LASER_NAMES.get(entry.name, str(entry.name)) for entry in frame.lasers if entry.ByteSize()]
    if not present:
        return f"the range images are empty (the frame's {len(frame.lasers)} laser entries carry no data)"
    return f"the frame has data for {', '.join(present)} only"


def laser_points(frame, laser: str = "TOP", returns: tuple[int, ...] = (1,)) -> np.ndarray:
    """float32 (N, 5) points (x, y, z, tanh(intensity), elongation) of one laser, vehicle frame.

    ``returns`` picks the first and/or second return. A frame without data for the laser, or whose
    range image is empty, raises :class:`WaymoDataError` saying which.
    """
    if laser not in LASER_IDS or laser == "UNKNOWN":
        raise WaymoDataError(f"unknown laser {laser!r}; expected one of TOP, FRONT, SIDE_LEFT, SIDE_RIGHT, REAR")
    laser_id = LASER_IDS[laser]
    data = next((entry for entry in frame.lasers if entry.name == laser_id), None)
    if data is None:
        raise WaymoDataError(f"frame {frame_name(frame)}: no data for laser {laser}: {_describe_lasers(frame)}")
    calibration = _laser_calibration(frame, laser_id)
    extrinsic = np.asarray(calibration.extrinsic.transform, dtype=np.float64)
    if extrinsic.size != 16:
        raise WaymoDataError(
            f"frame {frame_name(frame)}: laser {laser}: extrinsic of {extrinsic.size} values, expected 16"
        )
    extrinsic = extrinsic.reshape(4, 4)
    pixel_pose = None  # the first return carries it (TOP only); it holds for both returns
    if data.ri_return1.range_image_pose_compressed:
        what = f"frame {frame_name(frame)}, {laser} pixel pose"
        pixel_pose = decode_matrix(data.ri_return1.range_image_pose_compressed, what)
        if pixel_pose.ndim != 3 or pixel_pose.shape[2] != 6:
            raise WaymoDataError(f"{what}: shape {pixel_pose.shape}, expected (H, W, 6)")
    clouds = []
    for index in returns:
        if index not in (1, 2):
            raise WaymoDataError(f"returns: expected 1 and/or 2, got {index}")
        image = data.ri_return1 if index == 1 else data.ri_return2
        what = f"frame {frame_name(frame)}, {laser} return {index}"
        if not image.range_image_compressed:
            raise WaymoDataError(f"{what}: the range image is empty")
        pixels = decode_matrix(image.range_image_compressed, what)
        if pixels.ndim != 3 or pixels.shape[2] < 3:
            raise WaymoDataError(f"{what}: range image of shape {pixels.shape}, expected (H, W, 4)")
        if pixel_pose is not None and pixel_pose.shape[:2] != pixels.shape[:2]:
            raise WaymoDataError(
                f"{what}: range image of {pixels.shape[:2]} pixels, pixel pose of {pixel_pose.shape[:2]}"
            )
        points = range_image_to_points(
            pixels[..., :3],
            beam_inclinations(calibration, pixels.shape[0]),
            extrinsic,
            pixel_pose,
            frame_pose(frame) if pixel_pose is not None else None,
        )
        points[:, 3] = np.tanh(points[:, 3])
        clouds.append(points)
    return np.concatenate(clouds, axis=0)


def frame_points(frame, lasers: tuple[str, ...] = ("TOP",), returns: tuple[int, ...] = (1,)) -> np.ndarray:
    """float32 (N, 5) points of several lasers (:func:`laser_points` each), concatenated in the given order."""
    return np.concatenate([laser_points(frame, laser, returns) for laser in lasers], axis=0)
