#!/usr/bin/env bash
# Installs the PyTorch peer used by the benchmarks: Debian's python3-torch with OpenBLAS
# (without libopenblas0-pthread Debian's torch runs about 10x slower). Needs root or sudo.
set -euo pipefail
SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq python3-torch libopenblas0-pthread
/usr/bin/python3 -c 'import torch; print("torch", torch.__version__, "ready")'
