"""Compare the intensity of synthetic frames with real scans (voxformer.datasets.synthetic.realism).

    python tools/compare_intensity.py --real ../shared/data/real/kitti/training/velodyne \
        [--real-format kitti] [--frames 6 --seed 0 --sensor hdl64 [--mount-height M] | --synthetic DIR] \
        [--json FILE]

Prints, overall and by range, the share of points, the mean intensity and the Wasserstein-1 and
total-variation distances between the two intensity histograms. Without ``--synthetic`` the frames
are generated here (frames 0 .. N-1 of the seed, as ``voxformer create-data synthetic`` writes them).
"""

import argparse
import json
import sys
from pathlib import Path


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--real", nargs="+", required=True, help="real scans: point files or folders of them")
    parser.add_argument(
        "--real-format", default="kitti", help="layout of raw .bin files: kitti (default), nuscenes, waymo"
    )
    parser.add_argument("--synthetic", default=None, help="a folder of synthetic .bin frames (e.g. DATA_ROOT/points)")
    parser.add_argument("--frames", type=int, default=6, help="frames to generate without --synthetic (default 6)")
    parser.add_argument("--seed", type=int, default=0, help="dataset seed of the generated frames (default 0)")
    parser.add_argument("--sensor", default="hdl64", help="sensor preset of the generated frames (default hdl64)")
    parser.add_argument("--mount-height", type=float, default=None, help="sensor height of the generated frames, m")
    parser.add_argument("--json", default=None, metavar="FILE", help="also write the numbers as JSON")
    return parser.parse_args(argv)


def point_files(paths: list[str]) -> list[Path]:
    from voxformer.commands.infer import input_files

    return [file for path in paths for file in input_files(Path(path))]


def main(argv=None) -> int:
    from voxformer.apis.point_files import read_point_file
    from voxformer.datasets.synthetic.realism import compare, format_comparison
    from voxformer.errors import VoxformerError

    args = parse_args(argv)
    try:
        real = [read_point_file(path, args.real_format) for path in point_files(args.real)]
        if args.synthetic:
            synthetic = [read_point_file(path, "kitti") for path in point_files([args.synthetic])]
            source = args.synthetic
        else:
            from voxformer.datasets.synthetic.generate import generate_frame

            synthetic = [
                generate_frame(args.seed, index, args.sensor, mount_height=args.mount_height).points
                for index in range(args.frames)
            ]
            source = f"{args.frames} frames, seed {args.seed}, sensor {args.sensor}"
    except (VoxformerError, ValueError) as error:
        print(f"compare_intensity: error: {error}", file=sys.stderr)
        return 2
    result = compare(synthetic, real)
    print(f"synthetic: {source}; real: {len(real)} scans")
    print(format_comparison(result))
    if args.json:
        no_nan = {
            group: {key: None if value != value else value for key, value in row.items()}
            for group, row in result.items()
        }
        Path(args.json).write_text(json.dumps(no_nan, indent=2))
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
