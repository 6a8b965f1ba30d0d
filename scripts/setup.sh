#!/usr/bin/env bash
# Installs what wide-resnet needs on a fresh Debian 12 / Ubuntu machine:
#  - checks Node.js first (>= 20; Debian 12's own nodejs is 18);
#  - the build tools node-gyp needs for the native addon (g++, make, python3) when missing;
#  - libdnnl-dev (oneDNN, the native backend's engine), dataset-fashion-mnist (real data), fonts;
#  - chromium (the browser test of the web page drives it through playwright-core; no browser download);
#  - with --with-reference (CI does this): python3-torch, python3-torchvision and python3-onnx, which the
#    PyTorch/ONNX cross-check tests compare against;
#  - openmpi-bin + libopenmpi-dev (Open MPI: `mpirun -np N wrn train`, built as a second addon)
#    and iproute2 (scripts/mpi-netns.sh's network namespaces);
#  - the npm dependencies, then builds the TypeScript and the native addon.
# Safe to re-run. Without root/sudo or apt it skips the Debian packages (the TypeScript backend still works).
set -euo pipefail
cd "$(dirname "$0")/.."

NODE_MIN=20
if ! command -v node >/dev/null; then
  echo "setup: Node.js is not installed; wide-resnet needs Node.js >= $NODE_MIN (Debian 12's nodejs package is 18, too old)."
  echo "setup: install Node.js $NODE_MIN or newer from https://nodejs.org (or NodeSource's Debian packages, or nvm), then re-run."
  exit 1
fi
node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" -lt "$NODE_MIN" ]; then
  echo "setup: Node.js $(node --version) is too old; wide-resnet needs >= $NODE_MIN (Debian 12's nodejs package is 18)."
  echo "setup: install Node.js $NODE_MIN or newer from https://nodejs.org (or NodeSource's Debian packages, or nvm), then re-run."
  exit 1
fi

PKGS=(libdnnl-dev dataset-fashion-mnist fonts-dejavu-core chromium openmpi-bin libopenmpi-dev iproute2)
command -v g++ >/dev/null || PKGS+=(g++)
command -v make >/dev/null || PKGS+=(make)
command -v python3 >/dev/null || PKGS+=(python3)
if [ "${1:-}" = "--with-reference" ]; then
  PKGS+=(python3-torch python3-torchvision python3-onnx)
fi
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
