#!/usr/bin/env node
// Our `wrn bench` against PyTorch (the reference WRN of ../shared/fixtures/generator/wrn.py) on the same
// configurations, in the same run, each in its own process: img/s of both and the ratio. The PyTorch is
// --python's: by default the repo's .venv-bench (PyTorch 2.13, created by
// `python3 -m venv .venv-bench && .venv-bench/bin/pip install torch==2.13.0+cpu numpy`) when it exists,
// else Debian's /usr/bin/python3 (PyTorch 1.13). PyTorch runs with torch.set_num_threads(os.cpu_count()), NCHW and
// channels_last (the faster counts), bf16 through torch.autocast('cpu', torch.bfloat16).
//
//   node scripts/bench-vs-pytorch.mjs [--archs wrn-16-4,wrn-28-10] [--modes train,infer]
//     [--precisions fp32,bf16,int8] [--batch 128] [--steps N] [--warmup N] [--rounds R] [--backend native]
//     [--generator DIR] [--python PATH] [--int8-peers fp32,bf16] [--json FILE]
//
// int8 rows: ours int8 (and ours fp32, for the speed-up) against PyTorch's best of --int8-peers
// (default fp32 and bf16, each at its faster layout).
//
// Default steps: wrn-28-10 (and other big nets) 5 (+3 warm-up); others 20 (+5). The two sides alternate
// --rounds times (default 3; this machine may be shared): the median of each side counts, and the min–max
// of each side is reported beside it. The CPU's ISA flags (AVX2/AVX-512/VNNI/BF16/AMX) are printed.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
function flag(name, fallback) {
  const i = args.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const v = args[i + 1];
  if (v === undefined || v.startsWith('--')) {
    console.error(`bench-vs-pytorch: --${name} needs a value`);
    process.exit(2);
  }
  return v;
}
const list = (s) => s.split(',').map((x) => x.trim()).filter(Boolean);
const archs = list(flag('archs', 'wrn-16-4,wrn-28-10'));
const modes = list(flag('modes', 'train,infer'));
const precisions = list(flag('precisions', 'fp32,bf16'));
const batch = Number(flag('batch', '128'));
const rounds = Number(flag('rounds', '3'));
const backend = flag('backend', 'native');
const generator = path.resolve(root, flag('generator', '../shared/fixtures/generator'));
const jsonOut = flag('json', '');
const int8Peers = list(flag('int8-peers', 'fp32,bf16'));
const venvPython = path.join(root, '.venv-bench/bin/python');
const python = flag('python', existsSync(venvPython) ? venvPython : '/usr/bin/python3');
if (!Number.isInteger(rounds) || rounds < 1) {
  console.error(`bench-vs-pytorch: --rounds must be a positive integer, got '${flag('rounds', '3')}'`);
  process.exit(2);
}

for (const [what, ok] of [
  [`${generator}/wrn.py`, existsSync(path.join(generator, 'wrn.py'))],
  [python, existsSync(python)],
  ['dist/src/cli/main.js (run `npm run build`)', existsSync(path.join(root, 'dist/src/cli/main.js'))],
]) {
  if (!ok) {
    console.error(`bench-vs-pytorch: ${what} not found`);
    process.exit(2);
  }
}

function stepsFor(arch, mode) {
  const big = /^wrn-28-10$|^wrn-40-10$|wide-resnet/.test(arch);
  // PyTorch needs several steps to warm up (oneDNN primitive and allocator caches: its first WRN-16-2
  // training steps ran at 79, 141, 167, then ~230 img/s here), and our backward-weights variant choice
  // times each variant twice; so both sides get the same generous warm-up.
  const steps = Number(flag('steps', big ? '5' : '20'));
  const warmup = Number(flag('warmup', big ? '3' : '5'));
  return { steps, warmup };
}

function median(a) {
  const s = [...a].sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function lastJson(out, what) {
  const line = out.trim().split('\n').filter((l) => l.startsWith('{')).pop();
  if (!line) throw new Error(`${what}: no JSON output`);
  return JSON.parse(line);
}

function ours(arch, mode, precision, steps, warmup) {
  const r = spawnSync(process.execPath, [path.join(root, 'bin/wrn.js'), 'bench', '--arch', arch, '--batch', String(batch), '--mode', mode,
    '--precision', precision, '--steps', String(steps), '--warmup', String(warmup), '--backend', backend, '--json'], { cwd: root, encoding: 'utf8', maxBuffer: 1 << 24 });
  if (r.status !== 0) throw new Error(`wrn bench ${arch} ${mode} ${precision} failed: ${r.stderr.trim().split('\n').pop()}`);
  return lastJson(r.stdout, 'wrn bench');
}

/**
 * PyTorch at `precision`; for our int8 (inference), PyTorch's best of fp32 and bf16 (each at its faster
 * layout) is the peer: what a PyTorch user would run.
 */
function torch(arch, mode, precision, steps, warmup) {
  if (precision !== 'int8') return torchAt(arch, mode, precision, steps, warmup);
  const all = int8Peers.map((p) => torchAt(arch, mode, p, steps, warmup));
  const best = all.reduce((x, y) => (y.img_per_s > x.img_per_s ? y : x));
  return { ...best, layout: `${best.precision} ${best.layout}`, peers: Object.fromEntries(all.map((r) => [r.precision, r.img_per_s])) };
}

function torchAt(arch, mode, precision, steps, warmup) {
  const m = /^wrn-(\d+)-(\d+)$/.exec(arch);
  if (!m) throw new Error(`${arch}: the PyTorch side runs wrn-D-K only`);
  const r = spawnSync(python, [path.join(root, 'scripts/bench-vs-pytorch.py'), m[1], m[2], String(batch), mode, precision, String(steps), String(warmup), generator],
    { cwd: root, encoding: 'utf8', maxBuffer: 1 << 24 });
  if (r.status !== 0) throw new Error(`PyTorch ${arch} ${mode} ${precision} failed: ${r.stderr.trim().split('\n').pop()}`);
  return lastJson(r.stdout, 'PyTorch');
}

const load = () => os.loadavg()[0].toFixed(1);

/** The x86 ISA extensions that decide which oneDNN kernels run (from /proc/cpuinfo; '?' elsewhere). */
function isaFlags() {
  let text = '';
  try {
    text = readFileSync('/proc/cpuinfo', 'utf8');
  } catch {
    return '?';
  }
  const line = text.split('\n').find((l) => l.startsWith('flags')) ?? '';
  const have = new Set(line.split(':')[1]?.trim().split(/\s+/) ?? []);
  const wanted = ['avx2', 'avx_vnni', 'avx512f', 'avx512bw', 'avx512_vnni', 'avx512_bf16', 'amx_bf16', 'amx_int8'];
  return wanted.filter((f) => have.has(f)).join(' ') || 'none of avx2/avx512/vnni/amx';
}
const spread = (a) => `${Math.min(...a).toFixed(1)}–${Math.max(...a).toFixed(1)}`;
const rows = [];
const isa = isaFlags();
console.error(`batch ${batch}, ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? '?'}; ISA: ${isa}), rounds ${rounds}, load ${load()}, PyTorch from ${python}`);
for (const arch of archs) {
  for (const mode of modes) {
    for (const precision of precisions) {
      const { steps, warmup } = stepsFor(arch, mode);
      const o = [];
      const t = [];
      let ourRes;
      let torchRes;
      const loads = [load()];
      const oFp32 = [];
      for (let i = 0; i < rounds; i++) {
        // Alternate which side goes first so that a noisy neighbour hurts both alike.
        const order = i % 2 === 0 ? ['ours', 'torch'] : ['torch', 'ours'];
        for (const side of order) {
          if (side === 'ours') {
            ourRes = ours(arch, mode, precision, steps, warmup);
            o.push(ourRes.img_per_s);
            if (precision === 'int8') oFp32.push(ours(arch, mode, 'fp32', steps, warmup).img_per_s);
          } else {
            torchRes = torch(arch, mode, precision, steps, warmup);
            t.push(torchRes.img_per_s);
          }
          loads.push(load());
        }
      }
      const row = {
        arch, mode, precision, batch, steps, warmup, rounds,
        ours_img_per_s: median(o), torch_img_per_s: median(t), ratio: median(o) / median(t),
        ours_rounds: o, torch_rounds: t, ...(oFp32.length ? { ours_fp32_rounds: oFp32, ours_fp32_img_per_s: median(oFp32), int8_over_fp32: median(o) / median(oFp32) } : {}),
        torch_peers: torchRes.peers ?? null, ratio_min: Math.min(...o) / Math.max(...t), ratio_max: Math.max(...o) / Math.min(...t),
        ours_peak_rss_mb: ourRes.peak_rss_mb, torch_peak_rss_mb: torchRes.peak_rss_mb ?? null, ours_backend: ourRes.backend,
        torch_layout: torchRes.layout, torch_nchw: torchRes.nchw, torch_channels_last: torchRes.channels_last, torch_version: torchRes.torch,
        load_avg_1m: loads.join(' '),
      };
      rows.push(row);
      console.error(`${arch} ${mode} ${precision}: ours ${row.ours_img_per_s.toFixed(1)} (${spread(o)}) img/s, PyTorch ${row.torch_img_per_s.toFixed(1)} (${spread(t)}, ${row.torch_layout}), ratio ${row.ratio.toFixed(2)}x  [load ${row.load_avg_1m}]`);
    }
  }
}

const head = ['arch', 'mode', 'precision', 'ours img/s median (min–max)', 'PyTorch img/s median (min–max)', 'PyTorch layout', 'ratio (range)', 'peak RSS MiB ours / PyTorch'];
const body = rows.map((r) => [r.arch, r.mode, r.precision, `${r.ours_img_per_s.toFixed(1)} (${spread(r.ours_rounds)})`, `${r.torch_img_per_s.toFixed(1)} (${spread(r.torch_rounds)})`, r.torch_layout,
  `${r.ratio.toFixed(2)}x (${r.ratio_min.toFixed(2)}–${r.ratio_max.toFixed(2)})`,
  `${r.ours_peak_rss_mb.toFixed(0)} / ${r.torch_peak_rss_mb === null ? '?' : r.torch_peak_rss_mb.toFixed(0)}`]);
console.log(`| ${head.join(' | ')} |`);
console.log(`|${head.map(() => '---').join('|')}|`);
for (const b of body) console.log(`| ${b.join(' | ')} |`);
if (rows[0]) console.log(`\nours: ${rows[0].ours_backend}; PyTorch ${rows[0].torch_version} (${python}); batch ${batch}; ${rounds} rounds alternating; CPU ISA: ${isa}`);
if (jsonOut) {
  const tmp = `${jsonOut}.tmp`;
  writeFileSync(tmp, JSON.stringify({ date: new Date().toISOString(), cpus: os.cpus().length, cpu_model: os.cpus()[0]?.model ?? null, isa, python, rounds, rows }, null, 2));
  renameSync(tmp, jsonOut);
}
