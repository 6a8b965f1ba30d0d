#!/usr/bin/env bash
# Interop check against torchvision 0.14 (Debian python3-torchvision), not a test (a 69M-parameter net):
# a random wide_resnet50_2 saved with torch.save(state_dict) as .pth, and converted to fp16 safetensors,
# must both load here (no Python) and reproduce torchvision's logits.
#   bash scripts/check-torchvision-interop.sh [ARCH=wide_resnet50_2]
set -euo pipefail
cd "$(dirname "$0")/.."
ARCH=${1:-wide_resnet50_2}
DIR=$(mktemp -d)
trap 'rm -rf "$DIR"' EXIT
/usr/bin/python3 - "$DIR" "$ARCH" <<'PY'
import sys, torch, torchvision
sys.path.insert(0, '../shared/fixtures/generator')
from make_fixtures import save_safetensors
out, arch = sys.argv[1], sys.argv[2]
torch.manual_seed(0)
m = getattr(torchvision.models, arch)()
with torch.no_grad():
    for mod in m.modules():
        if isinstance(mod, torch.nn.BatchNorm2d):
            mod.weight.uniform_(0.5, 1.5); mod.bias.uniform_(-0.2, 0.2)
            mod.running_mean.uniform_(-0.2, 0.2); mod.running_var.uniform_(0.5, 2.0)
m.eval()
x = torch.randn(2, 3, 224, 224)
with torch.no_grad():
    logits = m(x)
torch.save(m.state_dict(), f'{out}/model.pth')
save_safetensors(f'{out}/io.safetensors', {'input': x, 'logits': logits})
print(f'torchvision {torchvision.__version__} {arch}: {sum(p.numel() for p in m.parameters()):,} parameters')
PY
node bin/wrn.js convert "$DIR/model.pth" "$DIR/model-f16.safetensors" --dtype f16 >/dev/null
compare() {
  node --input-type=module - "$1" "$DIR/io.safetensors" "$2" <<'JS'
import { readSafetensors } from './dist/src/io/safetensors.js';
const [, , label, io, jsonl] = process.argv;
const ref = readSafetensors(io).tensors.get('logits').data;
const rows = (await import('node:fs')).readFileSync(jsonl, 'utf8').trim().split('\n').map((l) => JSON.parse(l).logits).flat();
let d = 0, s = 0;
rows.forEach((v, i) => { d = Math.max(d, Math.abs(v - ref[i])); s = Math.max(s, Math.abs(ref[i])); });
console.log(`${label}: max |logits - torchvision| / max |torchvision| = ${(d / s).toExponential(2)}`);
JS
}
node bin/wrn.js predict --weights "$DIR/model.pth" --arch "$ARCH" --json "$DIR/io.safetensors" > "$DIR/pth.jsonl"
compare ".pth (fp32)" "$DIR/pth.jsonl"
node bin/wrn.js predict --weights "$DIR/model-f16.safetensors" --json "$DIR/io.safetensors" > "$DIR/f16.jsonl"
compare "safetensors (fp16)" "$DIR/f16.jsonl"
