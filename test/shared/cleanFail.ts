/**
 * Runs `wrn ...` in a child process the way a user would and checks that it failed cleanly: exit 1,
 * one line on stderr naming what was wrong, no stack trace, within a time limit and a memory bound
 * (peak RSS, read from /proc through GNU time when it is installed).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';

const BIN = path.resolve(process.cwd(), 'bin/wrn.js');
const GNU_TIME = '/usr/bin/time';

export interface CleanFailLimits {
  /** Wall-clock limit, ms (generous: the test machine is shared). */
  timeoutMs?: number;
  /** Peak resident memory allowed, MiB. */
  maxRssMiB?: number;
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
  /** Peak RSS in MiB, when GNU time is available. */
  rssMiB: number | null;
}

export function runWrn(args: string[], timeoutMs = 30_000, env: NodeJS.ProcessEnv = process.env): RunResult {
  const useTime = existsSync(GNU_TIME);
  const cmd = useTime ? GNU_TIME : process.execPath;
  const argv = useTime ? ['-f', 'WRN_MAXRSS_KB=%M', process.execPath, BIN, ...args] : [BIN, ...args];
  const t0 = Date.now();
  const r = spawnSync(cmd, argv, { encoding: 'utf8', timeout: timeoutMs, env });
  const ms = Date.now() - t0;
  let stderr = r.stderr ?? '';
  let rssMiB: number | null = null;
  const m = /WRN_MAXRSS_KB=(\d+)\s*$/.exec(stderr);
  if (m) {
    rssMiB = Number(m[1]) / 1024;
    stderr = stderr.slice(0, m.index);
  }
  // GNU time reports a non-zero exit on its own line; drop it.
  stderr = stderr.replace(/^Command exited with non-zero status \d+\n/m, '');
  return { code: r.status, stdout: r.stdout ?? '', stderr, ms, rssMiB };
}

/** Asserts the clean failure and that the message matches `expect` (and so names the file or flag). */
export function assertCleanFail(args: string[], expect: RegExp, limits: CleanFailLimits = {}): RunResult {
  const timeoutMs = limits.timeoutMs ?? 30_000;
  const r = runWrn(args, timeoutMs);
  const what = `wrn ${args.join(' ')}`;
  assert.ok(r.ms < timeoutMs, `${what}: no answer within ${timeoutMs} ms`);
  assert.equal(r.code, 1, `${what}: exit 1 expected, got ${r.code}; stderr: ${r.stderr}`);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, `${what}: one line expected on stderr, got:\n${r.stderr}`);
  assert.doesNotMatch(r.stderr, /^\s+at /m, `${what}: stack trace`);
  assert.doesNotMatch(r.stderr, /RangeError|TypeError/, `${what}: a JavaScript error escaped: ${r.stderr}`);
  assert.match(lines[0], expect, what);
  if (r.rssMiB !== null && limits.maxRssMiB !== undefined) {
    assert.ok(r.rssMiB < limits.maxRssMiB, `${what}: peak RSS ${r.rssMiB.toFixed(0)} MiB, over ${limits.maxRssMiB} MiB`);
  }
  return r;
}
