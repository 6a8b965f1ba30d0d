#!/usr/bin/env bash
# Runs issue 16's absurd-value cases through the CLI and prints: command | exit code | seconds | stderr.
# Usage: bash scripts/value-errors.sh > docs/results/cli/value-errors.txt   (after npm run build)
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
echo '{"arch": 16}' > arch16.json
echo '{"epochs": 0}' > epochs0.json
echo '{"lr": "abc"}' > lrabc.json
echo '{"arch": "wrn-16-4", "learningRate": 0.1}' > unknown.json
echo "# issue 16 value cases, $(git -C "$root" rev-parse --short HEAD), $(date -u +%F), $(nproc) cores, $(free -g | awk '/Mem/{print $2}') GiB"
echo "# command | exit code | seconds (node start-up included) | stderr"
for args in "summary wrn-600000004-1" "summary wrn-16-0" "bench --arch wrn-16-4 --batch 1000000000" "train --workers 100000" \
  "train --config arch16.json" "train --config epochs0.json" "train --config lrabc.json" "train --config unknown.json"; do
  s=$(date +%s.%N)
  # shellcheck disable=SC2086
  err=$(node "$root/bin/wrn.js" $args 2>&1 >/dev/null)
  rc=$?
  e=$(date +%s.%N)
  printf 'wrn %s | %d | %.2f | %s\n' "$args" "$rc" "$(echo "$e - $s" | bc)" "$err"
done
