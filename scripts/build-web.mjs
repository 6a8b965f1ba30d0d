// Bundles the web page (web/app.ts + src/preprocess) with esbuild into dist/web, next to its HTML and CSS.
// onnxruntime-web is bundled without its WASM (the "extern wasm" build): the server and `wrn export --web`
// serve ort-wasm-simd-threaded.{mjs,wasm} from the npm package under ort/.
import { build } from 'esbuild';
import { copyFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const out = path.join(root, 'dist', 'web');
mkdirSync(out, { recursive: true });
await build({
  entryPoints: [path.join(root, 'web', 'app.ts')],
  bundle: true,
  format: 'esm',
  target: 'es2022',
  platform: 'browser',
  conditions: ['onnxruntime-web-use-extern-wasm'],
  minify: true,
  sourcemap: true,
  outfile: path.join(out, 'app.js'),
  logLevel: 'warning',
});
for (const f of ['index.html', 'style.css']) copyFileSync(path.join(root, 'web', f), path.join(out, f));
