"""The report of ``tools/device_check.sh``: ``device_check.json`` and ``device_check.md`` in OUT_DIR.

    python tools/device_report.py RECORDS OUT_DIR [--budget SECONDS] [--dry-run]

RECORDS holds one tab-separated line per step: name, status, seconds, exit code, log file, command. The
JSON is ``{"dry_run", "budget_s", "date", "gpu", "steps": [{name, command, status, seconds, exit_code,
output_tail}]}``; the markdown holds the steps' table, then a table per benchmark JSON
(``bench_*.json``) and the detectors' table (``forward_backward.json``) found in OUT_DIR.
Needs only the standard library (the GPU's name is read from the ``imports`` step's output).
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
from pathlib import Path

TAIL_CHARS = 3000
FIELDS = ("name", "status", "seconds", "exit_code", "log", "command")


def read_steps(records: Path) -> list[dict]:
    steps = []
    for line in records.read_text().splitlines():
        step = dict(zip(FIELDS, line.split("\t", len(FIELDS) - 1)))
        log = Path(step.pop("log"))
        text = log.read_text(errors="replace") if log.is_file() else ""
        steps.append({**step, "seconds": int(step["seconds"]), "exit_code": int(step["exit_code"]),
                      "output_tail": text[-TAIL_CHARS:]})  # fmt: skip
    return steps


def gpu_name(steps: list[dict]) -> str | None:
    """The first CUDA device the ``imports`` step printed (``cuda:0 <name> sm_<xy> <memory> GiB``), if any."""
    for step in steps:
        if step["name"] == "imports":
            for line in step["output_tail"].splitlines():
                if line.startswith("cuda:0 "):
                    return line.removeprefix("cuda:0 ")
    return None


def markdown_table(header: list[str], rows: list[list]) -> list[str]:
    cell = lambda value: str(value).replace("|", "\\|").replace("\n", " ")
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    return lines + ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]


def _number(value, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def bench_section(path: Path) -> list[str]:
    rows = json.loads(path.read_text())
    body = [[r["name"], r["shape"], _number(r["time_ms"]), r["baseline"] or "-", _number(r["baseline_ms"]),
             _number(r["ratio"], 2)] for r in rows]  # fmt: skip
    header = ["name", "shape", "time ms", "baseline", "baseline ms", "ratio"]
    return [f"### {path.stem}", "", *markdown_table(header, body), ""]


def forward_section(path: Path) -> list[str]:
    ms = lambda row, key: _number(row[key] * 1e3, 1) if key in row else "-"
    body = [[r["config"], r["status"], ms(r, "first_s"), ms(r, "last_s"), r.get("voxels", "-"),
             _number(r.get("peak_gib"), 2), r.get("reason", "")] for r in json.loads(path.read_text())]  # fmt: skip
    header = ["config", "status", "first step ms", "last step ms", "voxels", "peak GiB", "reason"]
    return ["### forward + backward", "", *markdown_table(header, body), ""]


def report(steps: list[dict], out_dir: Path, budget: int, dry_run: bool) -> dict:
    date = datetime.date.today().isoformat()
    summary = dict(dry_run=dry_run, budget_s=budget, date=date, gpu=gpu_name(steps), steps=steps)
    (out_dir / "device_check.json").write_text(json.dumps(summary, indent=2))
    total = sum(step["seconds"] for step in steps)
    title = f"GPU check{' (dry run)' if dry_run else ''}, {date}, {summary['gpu'] or 'no CUDA device'}"
    lines = [f"## {title}", "", f"{total} s of a {budget} s budget.", ""]
    lines += markdown_table(["step", "status", "seconds", "command"],
                            [[s["name"], s["status"], s["seconds"], f"`{s['command']}`"] for s in steps])  # fmt: skip
    lines.append("")
    for path in sorted(out_dir.glob("bench_*.json")):
        lines += bench_section(path)
    if (out_dir / "forward_backward.json").is_file():
        lines += forward_section(out_dir / "forward_backward.json")
    (out_dir / "device_check.md").write_text("\n".join(lines))
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("records", type=Path)
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--budget", type=int, default=480, help="the check's time budget in seconds")
    parser.add_argument("--dry-run", action="store_true", help="the steps ran in dry-run mode")
    args = parser.parse_args(argv)
    summary = report(read_steps(args.records), args.out_dir, args.budget, args.dry_run)
    print(f"wrote {args.out_dir / 'device_check.json'} and device_check.md ({len(summary['steps'])} steps)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
