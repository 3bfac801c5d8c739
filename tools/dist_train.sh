#!/usr/bin/env bash
# Distributed training with torchrun and PyTorch DDP (mmengine's `pytorch` launcher).
#   tools/dist_train.sh NUM_PROCESSES CONFIG [train args...]
# One machine:   tools/dist_train.sh 8 configs/dsvt/dsvt_pillar_waymo.py
# Several nodes: set on every node NNODES (node count), NODE_RANK (0..NNODES-1), MASTER_ADDR (node 0's
#                address) and PORT (a free port on node 0), then run the same command on each node.
# Without GPUs the processes use the gloo backend on the CPU (NUM_PROCESSES is then a process count).
# PYTHON selects the interpreter (default: python on the PATH).
set -euo pipefail
if [ $# -lt 2 ]; then
    echo "usage: $0 NUM_PROCESSES CONFIG [train args...]" >&2
    exit 2
fi
NPROC=$1
CONFIG=$2
shift 2
exec "${PYTHON:-python}" -m torch.distributed.run \
    --nnodes="${NNODES:-1}" \
    --node_rank="${NODE_RANK:-0}" \
    --master_addr="${MASTER_ADDR:-127.0.0.1}" \
    --master_port="${PORT:-29500}" \
    --nproc_per_node="$NPROC" \
    "$(dirname "$0")/train.py" "$CONFIG" --launcher pytorch "$@"
