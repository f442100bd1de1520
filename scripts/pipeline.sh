#!/usr/bin/env bash
# The main job on its embedded default, from a fresh machine: install what it needs, then run the
# offline pipeline (Debian 12 base under QEMU, AWS and provisioning stand-ins, Packer's qemu builder).
# Extra arguments go to the pipeline (e.g. --quick, --reuse-bake DIR).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
npm run pipeline -- "$@"
