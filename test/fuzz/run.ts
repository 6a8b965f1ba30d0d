/**
 * The fuzzer from the command line (after `npx tsc -p tsconfig.json`):
 *
 *   node dist/test/fuzz/run.js [--cases 10000] [--seed 1] [--only pth,tar] [--out docs/results/fuzz]
 *
 * Prints one line per reader and, with --out, writes <out>/fuzz.json (every count) and <out>/README.md.
 * Exits 1 when any case escaped (an error other than the reader's own, or a message not naming the file).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { runTarget, type FuzzOutcome } from './fuzz.js';
import { TARGETS } from './targets.js';

const { values } = parseArgs({ options: { cases: { type: 'string', default: '10000' }, seed: { type: 'string', default: '1' }, only: { type: 'string' }, out: { type: 'string' } } });
const cases = Number(values.cases);
const seed = Number(values.seed);
if (!Number.isInteger(cases) || cases < 1) throw new Error(`--cases: expected a positive integer, got '${values.cases}'`);
const only = values.only?.split(',');
const results: FuzzOutcome[] = [];
for (const t of TARGETS) {
  if (only && !only.includes(t.name)) continue;
  const r = await runTarget(t, cases, seed);
  results.push(r);
  console.log(`${t.name.padEnd(12)} ${r.cases} cases: ${r.accepted} accepted, ${r.refused} refused cleanly, ${r.escaped} escaped, ${r.slow} slow (slowest ${r.slowestMs} ms, ${(r.totalMs / 1000).toFixed(1)} s)`);
  for (const e of r.escapes.slice(0, 5)) console.log(`    escape #${e.case} [${e.mutation}] ${e.error}`);
}
const rssMiB = Math.round(process.resourceUsage().maxRSS / 1024);
console.log(`peak RSS ${rssMiB} MiB`);
if (values.out) {
  mkdirSync(values.out, { recursive: true });
  const when = new Date().toISOString();
  writeFileSync(join(values.out, 'fuzz.json'), JSON.stringify({ when, node: process.version, cases, seed, peakRssMiB: rssMiB, results }, null, 1) + '\n');
  const rows = results.map((r) => `| ${r.target} | ${r.cases} | ${r.accepted} | ${r.refused} | ${r.escaped} | ${r.slow} | ${r.slowestMs} |`);
  writeFileSync(join(values.out, 'README.md'), [
    '# Fuzzing the readers',
    '',
    `Measured ${when} on the shared 2-core development machine (Node ${process.version}), seed ${seed}:`,
    '',
    '```sh',
    'npx tsc -p tsconfig.json',
    `node dist/test/fuzz/run.js --cases ${cases} --seed ${seed} --out docs/results/fuzz`,
    '```',
    '',
    'Each case starts from a valid file built field by field (test/fuzz/targets.ts) and changes one field',
    '(a size, an offset, a dtype, an opcode, a header field) or a few bytes, then runs the real reader.',
    '"Refused" means the reader\'s own error class with a one-line message naming the file; "escaped" is',
    `anything else. "Slow" is a case over 5 s. Peak RSS of the whole run: ${rssMiB} MiB.`,
    '',
    '| reader | cases | accepted | refused cleanly | escaped | slow | slowest (ms) |',
    '|---|---|---|---|---|---|---|',
    ...rows,
    '',
    'Per mutation kind and the most frequent refusal messages: [fuzz.json](fuzz.json).',
    '',
  ].join('\n'));
}
if (results.some((r) => r.escaped > 0)) process.exitCode = 1;
