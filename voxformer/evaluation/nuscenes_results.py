"""nuScenes detection results JSON (the submission format), read with every field checked.

The file is ``{"results": {sample_token: [box, ...]}, "meta": {...}}``; a box is a dict in the
global frame::

    translation       [x, y, z] centre, metres
    size              [w, l, h] metres
    rotation          [w, x, y, z] quaternion (not all zero)
    velocity          [vx, vy] m/s (optional)
    detection_name    str
    detection_score   number
    attribute_name    str (optional)

Anything else raises :class:`VoxformerError` naming the file, the sample and the box index.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from voxformer.errors import VoxformerError

# field -> (kind, required); kinds: "vec3" (3 finite numbers), "quaternion" (4 finite numbers, not all
# zero), "velocity" (2 numbers, NaN where unknown), "str", "score" (a finite number)
BOX_FIELDS = {
    "translation": ("vec3", True),
    "size": ("vec3", True),
    "rotation": ("quaternion", True),
    "velocity": ("velocity", False),
    "detection_name": ("str", True),
    "detection_score": ("score", True),
    "attribute_name": ("str", False),
}
_VALUES = {"vec3": 3, "quaternion": 4, "velocity": 2}


def _is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _field_problem(value, kind: str) -> str | None:
    """Why ``value`` does not fit ``kind`` (see :data:`BOX_FIELDS`), or None."""
    if kind == "str":
        return None if isinstance(value, str) else "is not a string"
    if kind == "score":
        return None if _is_number(value) and math.isfinite(value) else "is not a finite number"
    size = _VALUES[kind]
    if not (isinstance(value, list) and len(value) == size and all(_is_number(v) for v in value)):
        return f"is not a list of {size} numbers"
    if kind != "velocity" and not all(math.isfinite(v) for v in value):
        return "holds a non-finite number"
    return "is all zeros" if kind == "quaternion" and not any(value) else None


def read_results(path: str | Path) -> dict[str, list[dict]]:
    """sample token -> result boxes of a nuScenes results JSON (see the module docstring)."""
    path = Path(path)
    try:
        content = json.loads(path.read_text())
    except FileNotFoundError:
        raise VoxformerError(f"{path}: results file not found") from None
    except (OSError, ValueError, RecursionError) as error:  # RecursionError: nested too deep
        raise VoxformerError(f"{path}: not valid JSON ({error})") from None
    results = content.get("results") if isinstance(content, dict) else None
    if not isinstance(results, dict):
        raise VoxformerError(f"{path}: expected a JSON object with a 'results' object (sample token -> boxes)")
    for token, boxes in results.items():
        if not isinstance(boxes, list):
            raise VoxformerError(f"{path}: results of sample {token}: expected a list of boxes")
        for index, box in enumerate(boxes):
            where = f"{path}: sample {token}, box {index}"
            if not isinstance(box, dict):
                raise VoxformerError(f"{where}: expected an object, got a JSON {type(box).__name__}")
            for field, (kind, required) in BOX_FIELDS.items():
                problem = _field_problem(box[field], kind) if field in box else "is missing" if required else None
                if problem:
                    raise VoxformerError(f"{where}: {field!r} {problem}")
    return results
