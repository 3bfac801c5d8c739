#!/usr/bin/env bash
# GPU check: the GPU tests, the attention benchmarks in fp32 and bf16, one training step of each detector,
# the ops benchmarks and the RPE attention benchmark, each under its own time limit, all within --budget
# seconds (default 480 = 8 min).
#
#   bash tools/device_check.sh [--dry-run] [--out DIR] [--wheels DIR] [--budget SECONDS]
#
# --dry-run   on any machine, no GPU needed: checks that every step's imports and arguments are right
#             (pytest --collect-only on the same selections, the benchmarks with --dry-run, the detectors
#             built on the CPU) and exits non-zero when something the real run needs is missing.
# --out DIR   where device_check.json (one record per step: name, command, status, seconds, output tail),
#             device_check.md (the same as tables, with the benchmark rows), device_check.log (every
#             step's whole output) and the steps' own JSON go; default $OUT when set, else ./device_check_out.
# --wheels DIR  install the wheels of DIR (e.g. mmengine and its pure-Python needs) into a temporary
#             folder put on PYTHONPATH, for a machine that lacks them and has no network.
#
# A step whose optional package is missing (mmengine for the detectors) is "skipped" and says which; so
# are test modules that cannot import mmengine, spconv or open3d (tools/pytest_optional.py). The exit
# code is 1 when a step failed or ran out of time, 2 for a wrong call, else 0. PYTHON names the
# interpreter (default python3).
set -uo pipefail
usage() { sed -n '2,/^set -uo/{/^#/s/^# \{0,1\}//p}' "$0"; }

DRY_RUN=0
OUT_DIR="${OUT:-./device_check_out}"
WHEELS=""
BUDGET=480
while (($#)); do
  case $1 in
    --dry-run) DRY_RUN=1 ;;
    --out) OUT_DIR=${2:?--out needs a folder}; shift ;;
    --wheels) WHEELS=${2:?--wheels needs a folder}; shift ;;
    --budget) BUDGET=${2:?--budget needs seconds}; shift ;;
    -h | --help) usage; exit 0 ;;
    *) echo "device_check: unknown argument $1" >&2; usage >&2; exit 2 ;;
  esac
  shift
done
[[ $BUDGET =~ ^[0-9]+$ ]] || { echo "device_check: --budget takes whole seconds" >&2; exit 2; }
PY=${PYTHON:-python3}
command -v "$PY" >/dev/null || { echo "device_check: no interpreter $PY (set PYTHON)" >&2; exit 2; }
[[ $PY == */* ]] && PY=$(cd "$(dirname "$PY")" && pwd)/$(basename "$PY")
mkdir -p "$OUT_DIR" && OUT_DIR=$(cd "$OUT_DIR" && pwd) || exit 2
if [[ -n $WHEELS ]]; then
  WHEELS=$(cd "$WHEELS" && pwd) || exit 2
fi
cd "$(dirname "$0")/.." || exit 2
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"  # the tools' scripts import this tree's voxformer

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
LOG="$OUT_DIR/device_check.log"
RECORDS="$WORK/records.tsv"
: >"$RECORDS"
rm -f "$OUT_DIR"/device_check.{json,md} "$OUT_DIR"/bench_*.json "$OUT_DIR"/forward_backward.json  # earlier results
: >"$LOG"
export PYTHONUNBUFFERED=1
START=$SECONDS

MARGIN=15  # seconds of the budget kept for a stopped step's grace period (timeout -k) and the report
# Exit code of the next step that means "nothing selected" (pytest's 5), recorded as "no tests".
EMPTY_RC=""

# step NAME LIMIT NEEDS COMMAND...: run COMMAND under `timeout` for at most LIMIT seconds (less when the
# budget is nearly spent) and record its status. NEEDS lists the Python modules (and cmd:PROGRAM, the
# programs) without which the step is skipped.
step() {
  local name=$1 limit=$2 needs=$3 module missing="" status rc=0 begin=$SECONDS left
  shift 3
  local out="$WORK/$name.log"
  left=$((BUDGET - (SECONDS - START) - MARGIN))
  for module in $needs; do
    if [[ $module == cmd:* ]]; then
      command -v "${module#cmd:}" >/dev/null || missing+=" ${module#cmd:}"
    else
      "$PY" -c "import $module" 2>/dev/null || missing+=" $module"
    fi
  done
  printf '== %s: %s\n' "$name" "$*" >>"$LOG"
  if [[ -n $missing ]]; then
    status=skipped
    echo "skipped: needs${missing}, which is not installed" | tee -a "$LOG" >"$out"
  elif ((left < 10)); then
    status="not run"
    echo "not run: the ${BUDGET} s budget is spent" | tee -a "$LOG" >"$out"
  else
    ((limit > left)) && limit=$left
    timeout -k 10 "$limit" "$@" 2>&1 | tee -a "$LOG" >"$out"
    rc=${PIPESTATUS[0]}
    case $rc in
      0) status=passed ;;
      124 | 137) status=timeout; echo "timeout: stopped after ${limit} s" | tee -a "$LOG" >>"$out" ;;
      "$EMPTY_RC") status="no tests" ;;
      *) status=failed ;;
    esac
  fi
  local seconds=$((SECONDS - begin)) command=$*
  printf -- '-- %s: %s after %d s\n\n' "$name" "$status" "$seconds" >>"$LOG"
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$status" "$seconds" "$rc" "$out" "${command//[$'\t\n']/ }" >>"$RECORDS"
  printf '%-26s %-8s %4d s\n' "$name" "$status" "$seconds"
}

pytest_step() {  # pytest_step NAME LIMIT ARGS...
  EMPTY_RC=5 step "$1" "$2" "" "$PY" -m pytest -q -p no:cacheprovider -p tools.pytest_optional "${@:3}"
}

if ((DRY_RUN)); then
  COLLECT=(--collect-only) BENCH=(--dry-run) FORWARD=(--check) REPORT=(--dry-run)
else
  "$PY" -c 'import torch, sys; sys.exit(not torch.cuda.is_available())' 2>/dev/null || {
    echo "device_check: no CUDA device here; use --dry-run on a machine without one" >&2
    exit 2
  }
  COLLECT=() BENCH=() FORWARD=() REPORT=()
fi

if [[ -n $WHEELS ]]; then
  step wheels 120 "" "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target "$WORK/site" \
    "$WHEELS"/*.whl
  export PYTHONPATH="$WORK/site${PYTHONPATH:+:$PYTHONPATH}"
fi
if ! "$PY" -c 'import voxformer.ops' 2>/dev/null; then  # a bare copy of the tree: install it in place
  step install 120 "" bash -c '"$0" -m pip install -q --no-index --no-deps --no-build-isolation -e . ||
    { echo "pip could not install the tree; linking voxformer/ops -> ../ops instead"; ln -sn ../ops voxformer/ops; }' "$PY"
fi
step imports 60 "" "$PY" tools/device_env.py
step nvidia_smi 30 "cmd:nvidia-smi" nvidia-smi
step env 60 "" "$PY" -m voxformer.cli env
pytest_step gpu_tests 90 "${COLLECT[@]}" -m gpu -rs tests
for dtype in float32 bfloat16; do
  step "bench_attention_$dtype" 120 "" "$PY" tools/benchmark.py attention --device cuda --dtype "$dtype" \
    --json "$OUT_DIR/bench_attention_$dtype.json" "${BENCH[@]}"
done
step forward_backward 90 "mmengine" "$PY" tools/device_forward.py --device cuda \
  --json "$OUT_DIR/forward_backward.json" "${FORWARD[@]}"
pytest_step ops_tests 150 "${COLLECT[@]}" -m "not gpu" --durations=10 tests/ops
step bench_ops 60 "" "$PY" tools/benchmark.py ops --device cuda --json "$OUT_DIR/bench_ops.json" "${BENCH[@]}"
step bench_rpe 90 "" "$PY" tools/benchmark.py rpe --device cuda --json "$OUT_DIR/bench_rpe.json" "${BENCH[@]}"

"$PY" tools/device_report.py "$RECORDS" "$OUT_DIR" --budget "$BUDGET" "${REPORT[@]}" || exit 1
if awk -F '\t' '$2 == "failed" || $2 == "timeout" || $2 == "not run" { bad = 1 } END { exit !bad }' "$RECORDS"; then
  echo "device_check: some steps did not pass (see $OUT_DIR/device_check.md)" >&2
  exit 1
fi
