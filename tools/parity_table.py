"""The parity table of docs/configs.md: the official networks and recipes beside the published-recipe configs.

    python tools/parity_table.py                           # print the markdown
    python tools/parity_table.py --write docs/configs.md   # replace the table there
    python tools/parity_table.py --check docs/configs.md   # exit 1 unless the file holds it as printed

Parameters: for each official top-level module, the official count is summed over its keys in the listings
tests/models/fixtures/official_keys/<config_stem>.*.txt (read off the official code; BatchNorm statistics are
buffers, not parameters) and ours over the matching modules of the model built from the config. Checkpoint
import: a random state dict from the listings is converted onto the built model (every key mapped, every shape
equal). Recipe: each item of the published recipe with its official value and what the config builds or states.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LISTINGS = ROOT / "tests" / "models" / "fixtures" / "official_keys"
FAMILIES = {  # config stem -> the name in the table
    "dsvt_pillar_waymo": "DSVT-Pillar",
    "dsvt_voxel_waymo": "DSVT-Voxel",
    "flatformer_waymo": "FlatFormer",
    "scatterformer_waymo": "ScatterFormer",
    "centerpoint_voxel_waymo": "CenterPoint-Voxel",
}
OURS = {  # official top-level module (OpenPCDet, then mmdet3d; a pts_ prefix dropped) -> our modules
    "vfe": ("voxel_encoder",),
    "backbone_3d": ("backbone3d",),
    "map_to_bev_module": ("to_bev",),
    "backbone_2d": ("bev_backbone", "bev_neck"),
    "dense_head": ("head",),
    "voxel_encoder": ("voxel_encoder",),
    "middle_encoder": ("backbone3d",),
    "backbone": ("bev_backbone",),
    "neck": ("bev_neck",),
    "bbox_head": ("head",),
}
BUFFERS = ("running_mean", "running_var", "num_batches_tracked")


def _official_counts(entries) -> dict[str, int]:
    counts: dict[str, int] = {}
    for key, shape in entries:
        module = key.split(".")[0].removeprefix("pts_")
        if not key.endswith(BUFFERS):
            counts[module] = counts.get(module, 0) + (math.prod(shape) if shape is not None else 1)
    return counts


def _count(model, names) -> int:
    return sum(p.numel() for n in names if getattr(model, n) is not None for p in getattr(model, n).parameters())


def _number(value: int | None) -> str:
    return "—" if value is None else f"{value:,}"


def parameter_rows(stem: str, model, entries) -> list[str]:
    rows = []
    official = _official_counts(entries)
    for module, count in official.items():
        names = OURS.get(module, ())
        ours = _count(model, names) if names else None
        target = " + ".join(f"`{n}`" for n in names) or "?"
        mark = "=" if ours == count else "≠"
        rows.append(f"| {FAMILIES[stem]} | `{module}` → {target} | {_number(count)} | {_number(ours)} | {mark} |")
    total, ours = sum(official.values()), sum(p.numel() for p in model.parameters())
    mark = "=" if ours == total else "≠"
    rows.append(f"| {FAMILIES[stem]} | **total** | **{_number(total)}** | **{_number(ours)}** | {mark} |")
    return rows


def import_row(stem: str, model, model_cfg: dict, source: str, entries) -> str:
    from voxformer.errors import VoxformerError
    from voxformer.models.conversion import convert_state_dict, random_state_dict

    try:
        converted = convert_state_dict(random_state_dict(entries), model, model_cfg, source, path=f"{stem} listing")
        status = f"all {len(entries)} keys map onto the {len(converted)} of the model, shapes equal"
    except VoxformerError as error:
        status = "fails: " + str(error).split(": ", 1)[-1][:200].replace("|", "/")
    return f"| {FAMILIES[stem]} | {source} | {status} |"


# ----- recipe items: (config stems, item, official value, what our config builds or states) -------------------


def _find_type(node, type_name: str):
    """The first config dict of ``type_name`` inside ``node`` (lists and dicts searched depth first)."""
    if isinstance(node, dict):
        if node.get("type") == type_name:
            return node
        children = node.values()
    elif isinstance(node, (list, tuple)):
        children = node
    else:
        return None
    for child in children:
        found = _find_type(child, type_name)
        if found is not None:
            return found
    return None


def _norms(module) -> str:
    from torch import nn

    pairs = sorted({(m.eps, m.momentum) for m in module.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)})
    return ", ".join(f"{eps:g} / {momentum:g}" for eps, momentum in pairs) or "no BatchNorm"


def _iou_loss(cfg, model) -> str:
    head = cfg["model"]["head"]
    loss = head.get("losses", {}).get("iou_reg")
    return f"{loss['type']}, weight {head['loss_weights']['iou_reg']:g}" if loss else "none"


def _translation(cfg, model) -> str:
    transform = _find_type(cfg["train_dataloader"], "GlobalRotScaleTrans") or {}
    return str(transform.get("translation_std", "none"))


def _switch_off(cfg, model) -> str:
    hook = _find_type(cfg.get("custom_hooks", []), "AugmentationSwitchHook")
    return f"{', '.join(hook['transforms'])}: last {hook['num_last_epochs']}" if hook else "none"


def _beta1(cfg, model) -> str:
    moms = _find_type(cfg["param_scheduler"], "OneCycleMomentum")
    return f"{moms['moms'][0]:g} → {moms['moms'][1]:g} → {moms['moms'][0]:g}" if moms else "fixed"


def _one_cycle(cfg, model) -> str:
    lr = _find_type(cfg["param_scheduler"], "CheckpointableOneCycleLR") or {}
    return f"{lr.get('pct_start')} / {lr.get('div_factor')}"


def _optimizer(cfg, model) -> str:
    optimizer = cfg["optim_wrapper"]["optimizer"]
    return f"{optimizer['type']} {tuple(optimizer.get('betas', ()))}, WD {optimizer.get('weight_decay', 0):g}"


def _norm_decay(cfg, model) -> str:
    keys = cfg["optim_wrapper"].get("paramwise_cfg", {}).get("custom_keys", {})
    return ", ".join(f"'{k}' × {v.get('decay_mult', 1):g}" for k, v in keys.items()) or "decayed"


def _test(key: str) -> Callable:
    return lambda cfg, model: str(cfg["model"]["head"]["test_cfg"].get(key, "—"))


def _head(key: str) -> Callable:
    return lambda cfg, model: str(cfg["model"]["head"].get(key, "—"))


def _modules(model, names):
    """The modules ``names`` of ``model`` as one container (missing ones left out)."""
    from torch import nn

    return nn.ModuleList(getattr(model, n) for n in names if getattr(model, n) is not None)


def _bev_norms(cfg, model) -> str:
    return _norms(_modules(model, ("bev_backbone", "bev_neck")))


def _rectify(cfg, model) -> str:
    test = cfg["model"]["head"]["test_cfg"]
    if "iou_power" in test:
        order = "before" if test.get("rectify_before_topk") else "after"
        return f"heatmap × IoU^{test['iou_power']}, {order} top-k"
    return f"rectifier {test['iou_rectifier']}" if "iou_rectifier" in test else "none"


def _voxels(cfg, model) -> str:
    vfe = cfg["model"]["voxel_encoder"]
    return f"{vfe.get('type')}: {vfe.get('max_points_per_voxel', '—')} / {vfe.get('max_voxels', '—')}"


def _nms(cfg, model) -> str:
    nms = cfg["model"]["head"]["test_cfg"]["nms"]
    return f"{'class-agnostic' if nms.get('class_agnostic') else 'class-wise'}, IoU {nms['iou_threshold']}"


def _z_range(cfg, model) -> str:
    box = cfg["model"]["head"]["test_cfg"]["post_center_range"]
    return f"[{box[2]:g}, {box[5]:g}]"


def _min_points(cfg, model) -> str:
    sampler = _find_type(cfg["train_dataloader"], "ObjectSample") or {}
    return "/".join(str(n) for n in sampler.get("min_points", {}).values()) or "—"


DSVT = ("dsvt_pillar_waymo", "dsvt_voxel_waymo")
OPENPCDET = (*DSVT, "scatterformer_waymo")
FLATFORMER, CENTERPOINT = ("flatformer_waymo",), ("centerpoint_voxel_waymo",)
RECIPE = [
    (OPENPCDET, "IoU regression loss (1 − DIoU of the decoded boxes)", "DIoULoss, weight 2", _iou_loss),
    (OPENPCDET, "global translation std (m)", "[0.5, 0.5, 0.5]", _translation),
    (
        DSVT,
        "augmentation off at the end (epochs)",
        "ObjectSample, RandomFlip3D, GlobalRotScaleTrans: last 1",
        _switch_off,
    ),
    (("scatterformer_waymo",), "augmentation off at the end (epochs)", "ObjectSample: last 4", _switch_off),
    ((*OPENPCDET, *CENTERPOINT), "one-cycle Adam β1", "0.95 → 0.85 → 0.95", _beta1),
    (OPENPCDET, "heatmap candidates before NMS", "500", _test("top_k")),
    (OPENPCDET, "head BatchNorm eps / momentum", "0.001 / 0.01", lambda cfg, model: _norms(model.head)),
    (tuple(FAMILIES), "BEV BatchNorm eps / momentum", "0.001 / 0.01", _bev_norms),
    (
        FLATFORMER,
        "head BatchNorm eps / momentum (separate heads; the rest)",
        "1e-05 / 0.1, 0.001 / 0.01",
        lambda cfg, model: _norms(model.head),
    ),
    (FLATFORMER, "score rectification", "heatmap × IoU^2, before top-k", _rectify),
    (FLATFORMER, "heatmap candidates", "4096", _test("top_k")),
    (FLATFORMER, "score threshold", "0.1", _test("score_threshold")),
    (FLATFORMER, "heatmap minimum radius", "1", _head("min_radius")),
    (FLATFORMER, "IoU target (unit: in [0, 1])", "unit", _head("iou_target")),
    (FLATFORMER, "optimizer", "AdamW (0.9, 0.999), WD 0.05", _optimizer),
    (FLATFORMER, "weight decay on norm parameters", "'norm' × 0", _norm_decay),
    (CENTERPOINT, "one-cycle pct_start / div", "0.4 / 10", _one_cycle),
    (CENTERPOINT, "optimizer", "AdamW (0.9, 0.99), WD 0.01", _optimizer),
    (CENTERPOINT, "points per voxel / voxels per sample", "MeanVFE: 5 / 150000", _voxels),
    (CENTERPOINT, "NMS", "class-agnostic, IoU 0.7", _nms),
    (CENTERPOINT, "post-centre z range (m)", "[-2, 4]", _z_range),
    (CENTERPOINT, "GT-sampling minimum points", "5/5/5", _min_points),
]


def recipe_rows(stem: str, cfg: dict, model) -> list[str]:
    rows = []
    for stems, item, official, ours in RECIPE:
        if stem not in stems:
            continue
        try:
            value = ours(cfg, model)
        except (KeyError, TypeError, AttributeError):
            value = "not set"
        mark = "=" if value == official else "≠"
        rows.append(f"| {FAMILIES[stem]} | {item} | {official} | {value} | {mark} |")
    return rows


def parity_markdown() -> str:
    sys.path.insert(0, str(ROOT))
    from voxformer.apis.config import load_config
    from voxformer.models.conversion import PARTS, PUBLISHED_CONFIGS, read_listing
    from voxformer.models.conversion.listing import part_file
    from voxformer.registry import MODELS

    parameters = ["| model | official module → ours | official | ours | |", "|---|---|---:|---:|---|"]
    imports = ["| model | from | `voxformer convert-checkpoint` of the listed keys |", "|---|---|---|"]
    recipe = ["| model | recipe item | official | ours | |", "|---|---|---|---|---|"]
    for stem, (config, source) in PUBLISHED_CONFIGS.items():
        cfg = load_config(ROOT / config)
        model = MODELS.build(cfg.model)
        files = [part_file(LISTINGS, stem, part) for part in PARTS]
        entries = read_listing(f for f in files if f.is_file())
        parameters += parameter_rows(stem, model, entries)
        imports.append(import_row(stem, model, cfg.model.to_dict(), source, entries))
        recipe += recipe_rows(stem, cfg.to_dict(), model)
    command = "Regenerate with `python tools/parity_table.py` (it builds every model: about half a minute on CPU)."
    return "\n".join([command, "", *parameters, "", *imports, "", *recipe, ""])


def replace_table(text: str, table: str) -> str:
    """``text`` with its parity table (the "Regenerate with" line and the tables after it) replaced by ``table``."""
    start = text.find(table.splitlines()[0])
    if start < 0:
        raise SystemExit("no parity table to replace (its first line, 'Regenerate with ...', is missing)")
    lines = text[start:].split("\n")
    end = 1
    while end < len(lines) and (lines[end].startswith("|") or not lines[end].strip()):
        end += 1
    while not lines[end - 1].strip():  # blank lines after the last table stay
        end -= 1
    return text[:start] + table + "\n".join(lines[end:])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--check", metavar="FILE", help="exit 1 unless FILE holds the table as printed")
    action.add_argument("--write", metavar="FILE", help="replace the parity table in FILE")
    args = parser.parse_args(argv)
    table = parity_markdown()
    if args.check:
        if table not in Path(args.check).read_text():
            print(f"{args.check} does not hold the current parity table; run python tools/parity_table.py --write")
            return 1
    elif args.write:
        path = Path(args.write)
        path.write_text(replace_table(path.read_text(), table))
    else:
        print(table, end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
