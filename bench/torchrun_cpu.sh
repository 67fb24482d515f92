#!/usr/bin/env bash
# Compare one process with two torchrun ranks on the CPU for the mlp and cnn example configs.
#
# Usage: bash bench/torchrun_cpu.sh [CONFIG ...]   (default: configs/mlp.yaml configs/cnn.yaml)
# Prints, per config and mode (1 process, 1 process with 1 thread, 2 ranks), the wall time of
# the whole command, the test accuracy and the peak resident memory of each training process
# (GNU time's %M, in MB). Plots are off.
set -euo pipefail
cd "$(dirname "$0")/.."
python="${PYTHON:-python}"
runs="$(mktemp -d)"
trap 'rm -rf "$runs"' EXIT

accuracy() {
    "$python" -c 'import json, sys; print(json.load(sys.stdin)["metrics"]["accuracy"])'
}

configs=("$@")
if [ ${#configs[@]} -eq 0 ]; then
    configs=(configs/mlp.yaml configs/cnn.yaml)
fi

for config_file in "${configs[@]}"; do
    options=(train "$config_file" --set report.plots=false --runs-dir "$runs" --json)

    started=$(date +%s.%N)
    result=$(/usr/bin/time -f "%M" -o "$runs/one.rss" "$python" -m dmrun "${options[@]}" | accuracy)
    ended=$(date +%s.%N)
    echo "$config_file 1 process: $(echo "$ended - $started" | bc) s, accuracy $result, peak MB $(($(cat "$runs/one.rss") / 1024))"

    # One process with one thread, as each of the two ranks below has on a 2-core machine.
    started=$(date +%s.%N)
    result=$(OMP_NUM_THREADS=1 /usr/bin/time -f "%M" -o "$runs/one.rss" "$python" -m dmrun "${options[@]}" | accuracy)
    ended=$(date +%s.%N)
    echo "$config_file 1 process, 1 thread: $(echo "$ended - $started" | bc) s, accuracy $result, peak MB $(($(cat "$runs/one.rss") / 1024))"

    started=$(date +%s.%N)
    result=$("$python" -m torch.distributed.run --nproc-per-node 2 --master-addr 127.0.0.1 --master-port 29531 \
        --no-python bash -c 'exec /usr/bin/time -f "%M" -o "$0/rank.rss.$LOCAL_RANK" "$@"' "$runs" \
        "$python" -m dmrun "${options[@]}" 2>/dev/null | accuracy)
    ended=$(date +%s.%N)
    peaks=$(for file in "$runs"/rank.rss.*; do echo -n "$(($(cat "$file") / 1024)) "; done)
    rm -f "$runs"/rank.rss.*
    echo "$config_file 2 ranks:   $(echo "$ended - $started" | bc) s, accuracy $result, peak MB per rank $peaks"
done
