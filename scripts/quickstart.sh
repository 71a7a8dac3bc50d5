#!/usr/bin/env bash
# Sets everything up and runs the main job on a built-in default: installs the Debian
# packages, builds build/gta, then runs the pretrained stories260K model that ships in
# ../shared (greedy continuation) and the training-step benchmark on the tiny config.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
make -j"$(nproc)"
shared=${GTA_SHARED:-../shared}
echo "== greedy continuation, stories260K =="
build/gta generate --model "$shared/models/stories260K" --prompt-ids 1,403,407,261,378 --max-new-tokens 40 --greedy
echo "== training step throughput (forward + backward + AdamW), tiny config =="
build/gta bench --what train --config tiny --runs 3
