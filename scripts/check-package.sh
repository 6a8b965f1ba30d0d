#!/usr/bin/env bash
# The package as a user gets it: `npm pack`s this checkout, checks the tarball's contents (what install
# and run need; no tests, no docs/results), installs it into an empty folder and runs the installed CLI
# there: `npx wrn summary wrn-16-2` and a short `npx wrn bench` on the native backend (when oneDNN is
# installed; the TypeScript backend otherwise, said so). Run by .ci/run; takes a few minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

tarball=$(npm pack --silent --pack-destination "$work" 2>/dev/null | tail -n 1)
tar tzf "$work/$tarball" > "$work/contents"
echo "check-package: $tarball, $(wc -l < "$work/contents") files"
if grep -E '^package/(test|dist/test|docs|runs|src)/' "$work/contents" | head -n 5 | grep -q .; then
  echo "check-package: the tarball ships files it must not (tests, docs/results, sources):"
  grep -E '^package/(test|dist/test|docs|runs|src)/' "$work/contents" | head -n 5
  exit 1
fi
for f in package/bin/wrn.js package/dist/src/cli/main.js package/dist/src/index.js package/dist/src/index.d.ts \
         package/binding.gyp package/native/src/addon.cc package/native/src/kernels.def package/native/tuning/conv2d-weights.json package/scripts/build-native.mjs package/scripts/node-gyp.mjs package/README.md \
         package/native/mpi/binding.gyp package/native/mpi/addon.cc package/scripts/build-mpi.mjs; do
  grep -qx "$f" "$work/contents" || { echo "check-package: $f is missing from the tarball"; exit 1; }
done

mkdir "$work/app"
cd "$work/app"
npm init -y >/dev/null
npm install --no-audit --no-fund --prefer-offline "$work/$tarball" >/dev/null
echo "check-package: installed into an empty folder"
npx --no-install wrn summary wrn-16-2 | tail -n 3
backend=native
if [ ! -f node_modules/wide-resnet/build/Release/wrn_native.node ]; then
  if [ -n "${CI:-}" ]; then echo "check-package: the installed package built no oneDNN addon"; exit 1; fi
  echo "check-package: no oneDNN addon was built (libdnnl-dev missing?); benchmarking the TypeScript backend"
  backend=js
fi
npx --no-install wrn bench --arch wrn-10-1 --batch 8 --steps 2 --warmup 1 --backend "$backend"
echo "check-package: ok"
