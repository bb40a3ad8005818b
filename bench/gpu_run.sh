#!/usr/bin/env bash
# bench/step_time.py on a GPU, in one command: the run for a lent GPU machine (the device tool).
#
# There python3 has jax (CUDA), flax, optax, torch and torchvision but not jaxdip's dm-pix and
# matfree, nor deepinv and its natsort: carry them as wheels in .whl/ (pure Python; on a machine
# with PyPI, from the repository root):
#
#   echo /.whl/ >> .git/info/exclude
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 \
#       --implementation cp -d .whl dm-pix==0.4.5 matfree==0.6.3 deepinv==0.5.0 natsort
#
# then run `bash bench/gpu_run.sh` there with `.whl` carried. jaxdip itself is used from this
# checkout (PYTHONPATH). The JSON and the log go to $OUT (the device tool's folder that comes
# back), else bench/results/. Settings, each an environment variable: SIZES (default "256 512"),
# MODELS (all three), ROUNDS (1: a 15-minute device budget holds one round of both sizes),
# REPEATS (10), CHUNK (20), DEVICE (gpu; cpu makes it a dry run here), PYTHON (python3).
set -euo pipefail
cd "$(dirname "$0")/.."
py=${PYTHON:-python3}
if compgen -G ".whl/*.whl" > /dev/null; then
    "$py" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/jaxdip-site .whl/*.whl
    export PYTHONPATH="/tmp/jaxdip-site${PYTHONPATH:+:$PYTHONPATH}"
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
device=${DEVICE:-gpu}
out=${OUT:-bench/results}
mkdir -p "$out"
if [ "$device" = gpu ]; then
    nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,memory.total --format=csv || true
fi
# shellcheck disable=SC2086  # SIZES and MODELS are lists
"$py" bench/step_time.py --device "$device" --sizes ${SIZES:-256 512} \
    --models ${MODELS:-skip deep_decoder conv_decoder} --rounds "${ROUNDS:-1}" \
    --repeats "${REPEATS:-10}" --chunk "${CHUNK:-20}" --threads "$(nproc)" \
    --deepinv-python "$py" --out "$out/step_time_$device.json" 2>&1 | tee "$out/step_time_$device.log"
