#!/usr/bin/env bash
# Installs what wide-resnet needs on a fresh Debian 12 / Ubuntu machine:
#  - libdnnl-dev (oneDNN, the native backend's engine) and dataset-fashion-mnist (real data);
#  - chromium (the browser test of the web page drives it through playwright-core; no browser download);
#  - the npm dependencies, then builds the TypeScript and the native addon.
# Safe to re-run. Without root/sudo or apt it skips the Debian packages (the TypeScript backend still works).
set -euo pipefail
cd "$(dirname "$0")/.."

PKGS=(libdnnl-dev dataset-fashion-mnist fonts-dejavu-core chromium)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if command -v apt-get >/dev/null; then
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    echo "setup: installing Debian packages: ${missing[*]}"
    $SUDO apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "setup: apt-get not found; skipping ${missing[*]} (the TypeScript backend will be used)"
  fi
fi

echo "setup: npm install"
npm install --no-audit --no-fund
