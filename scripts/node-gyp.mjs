// Runs `node-gyp rebuild` for one of our addons (shared by build-native.mjs and build-mpi.mjs).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

/** Inside npm lifecycle scripts npm names its own bundled node-gyp; otherwise use ours, then npx. */
function nodeGyp() {
  if (process.env.npm_config_node_gyp && existsSync(process.env.npm_config_node_gyp)) {
    return [process.execPath, [process.env.npm_config_node_gyp]];
  }
  try {
    const require = createRequire(import.meta.url);
    return [process.execPath, [require.resolve('node-gyp/bin/node-gyp.js')]];
  } catch {
    return ['npx', ['--yes', 'node-gyp']];
  }
}

/**
 * Rebuilds the addon whose binding.gyp is in `directory` (relative to `root`); returns node-gyp's exit
 * status. Builds against the running Node's own headers when they are installed (no download); with
 * `strict` its output is shown, otherwise only its errors.
 */
export function rebuildAddon(root, { directory = '.', strict = false, extra = [] } = {}) {
  const [cmd, pre] = nodeGyp();
  const args = [...pre, 'rebuild', '--directory', path.join(root, directory), ...extra];
  const prefix = path.resolve(path.dirname(process.execPath), '..');
  if (!process.env.npm_config_nodedir && existsSync(path.join(prefix, 'include/node/node_api.h'))) args.push(`--nodedir=${prefix}`);
  const r = spawnSync(cmd, args, { cwd: root, stdio: strict ? 'inherit' : ['ignore', 'ignore', 'inherit'] });
  return r.status ?? 1;
}
