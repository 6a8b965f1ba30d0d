/**
 * The cross-checks against PyTorch, torchvision, Python onnx and onnxruntime skip on a developer's
 * machine without them, but never under CI: .ci/run installs them (scripts/setup.sh --with-reference),
 * so there a missing one fails the check instead of hiding it.
 */
import { execFileSync } from 'node:child_process';

/** Whether /usr/bin/python3 imports every module named. */
export function pythonHas(...modules: string[]): boolean {
  try {
    execFileSync('/usr/bin/python3', ['-c', modules.map((m) => `import ${m}`).join('; ')], { stdio: 'ignore', timeout: 60_000 });
    return true;
  } catch {
    return false;
  }
}

/** A node:test `skip` value: the reason when the reference is missing outside CI, else false. */
export function skipWithout(available: boolean, reason: string): string | false {
  if (available) return false;
  return process.env.CI ? false : reason;
}
