#!/usr/bin/env bash
# The GPU check of issue #20 in one go (about 6 minutes on an H100/H200):
#   1. tests/gpu: a training step of every backbone × method in fp32/bf16/fp16 with
#      channels-last, uint8 batches normalized on the GPU, train → resume → export-cams →
#      eval on CUDA, a one-process NCCL DDP run, torch.compile on CUDA;
#   2. training throughput and peak memory, VGG16 and ResNet50 aligned EIL, batch 64 at
#      224 px, fp32 vs bf16, eager vs compiled, and the reference bridging-gap training
#      step on the same GPU and batch when REFERENCE names a checkout of it (kept outside
#      the project or in a git-ignored folder, e.g. REFERENCE=.ref/bridging-gap-wsol);
#   3. the data path per CPU core (float, uint8, resize cache) on this machine's CPUs.
# Usage, from the repository root, with wsolkit installed:  bash tests/gpu/run_checks.sh
# Output also goes to ${OUT:-/tmp}/gpu_checks.log.
set -uo pipefail
export PYTHONUNBUFFERED=1
log="${OUT:-/tmp}/gpu_checks.log"
status=0
{
  python -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, torch.cuda.get_device_name(0))" || exit 1
  timeout 240 python -m pytest -q -m gpu tests/gpu -p no:cacheprovider || status=1
  reference=()
  if [ -n "${REFERENCE:-}" ]; then reference=(--reference "$REFERENCE"); fi
  timeout 240 python tests/benchmarks/bench_train.py --device cuda --backbone vgg16 resnet50 \
    --batch 64 --size 224 --amp off bf16 --compile off on --steps 30 --warmup 5 \
    "${reference[@]}" || status=1
  timeout 120 python tests/benchmarks/bench_data_path.py --images 128 --batch 32 || status=1
  exit $status
} 2>&1 | tee "$log"
