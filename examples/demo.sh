#!/usr/bin/env bash
# make demo: train the RGC-with-feedback example on a Fashion-MNIST subset,
# one JSON line per epoch, then a final line with accuracy, parameters, FLOPs.
set -euo pipefail
build=${1:-build}
cd "$(dirname "$0")/.."
mkdir -p runs/demo
echo "== spec (validated, with its cost) =="
"$build/worker/convrnn-worker" --spec examples/rgc_feedback.json --dry-run |
  /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin); print(f"params {d[\"params\"]:,}  FLOPs/image {d[\"flops_per_image\"]:,}")'
echo "== training on 6,000 Fashion-MNIST images, 2,000 for validation =="
"$build/worker/convrnn-worker" --spec examples/rgc_feedback.json \
  --data examples/data_fashion_mnist_small.json --checkpoint-dir runs/demo/rgc --no-resume --test \
  | tee runs/demo/rgc.jsonl
