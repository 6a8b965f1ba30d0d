#!/usr/bin/env node
// Before/after throughput of two checkouts of this project on one machine: `wrn bench` of each
// configuration, A and B alternating in every round (each in its own process), so that the load of a
// shared machine falls on both alike. Prints B/A per configuration (median of the rounds' ratios and
// their range) and writes every raw result to --out.
//
//   node scripts/bench-ab.mjs --a /path/to/before --b . [--rounds 3] [--configs wrn-16-4:train:fp32:10:3,...]
//   config = arch:mode:precision:steps:warmup[:batch] (batch default 128)
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

function arg(name, fallback) {
  const i = process.argv.indexOf(name);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1] : fallback;
}

const a = path.resolve(arg('--a', '.'));
const b = path.resolve(arg('--b', '.'));
const rounds = Number(arg('--rounds', '3'));
const out = arg('--out', 'docs/results/bench-ab/latest.json');
const configs = arg('--configs', 'wrn-16-4:train:fp32:10:3,wrn-16-4:infer:fp32:20:3,wrn-28-10:train:fp32:3:2,wrn-28-10:infer:fp32:5:2')
  .split(',').map((c) => {
    const [arch, mode, precision, steps, warmup, batch = '128'] = c.split(':');
    return { arch, mode, precision, steps, warmup, batch };
  });

function bench(dir, c) {
  const r = spawnSync(process.execPath, [path.join(dir, 'bin/wrn.js'), 'bench', '--backend', 'native', '--arch', c.arch, '--mode', c.mode,
    '--precision', c.precision, '--batch', c.batch, '--steps', c.steps, '--warmup', c.warmup, '--json'], { cwd: dir, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${dir}: wrn bench failed: ${r.stderr.trim().split('\n').pop()}`);
  return JSON.parse(r.stdout.trim().split('\n').pop());
}

const results = [];
for (const c of configs) {
  const row = { ...c, a: [], b: [], ratio: [], load: [] };
  for (let i = 0; i < rounds; i++) {
    // Alternate which side goes first, so neither always runs right after the other.
    const order = i % 2 === 0 ? ['a', 'b'] : ['b', 'a'];
    const got = {};
    for (const side of order) got[side] = bench(side === 'a' ? a : b, c).img_per_s;
    row.a.push(got.a);
    row.b.push(got.b);
    row.ratio.push(got.b / got.a);
    row.load.push(os.loadavg()[0]);
    console.error(`${c.arch} ${c.mode} ${c.precision} batch ${c.batch} round ${i + 1}: A ${got.a.toFixed(1)} B ${got.b.toFixed(1)} img/s (load ${os.loadavg()[0].toFixed(1)})`);
  }
  results.push(row);
}

const med = (v) => [...v].sort((x, y) => x - y)[v.length >> 1];
console.log('| arch | mode | precision | batch | A img/s (median) | B img/s (median) | B/A median | B/A range |');
console.log('|---|---|---|---:|---:|---:|---:|---|');
for (const r of results) {
  console.log(`| ${r.arch} | ${r.mode} | ${r.precision} | ${r.batch} | ${med(r.a).toFixed(1)} | ${med(r.b).toFixed(1)} | ${med(r.ratio).toFixed(3)} | ${Math.min(...r.ratio).toFixed(3)}-${Math.max(...r.ratio).toFixed(3)} |`);
}
mkdirSync(path.dirname(out), { recursive: true });
writeFileSync(out, `${JSON.stringify({ a, b, rounds, cpus: os.cpus().length, measured: new Date().toISOString(), results }, null, 2)}\n`);
