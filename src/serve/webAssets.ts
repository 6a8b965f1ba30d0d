/**
 * The web page's files: the page itself (web/, bundled by scripts/build-web.mjs into dist/web), the
 * onnxruntime-web WASM runtime (from its npm package, served locally, never from a CDN), and what the
 * page loads about the model (model.onnx, model.json). `wrn serve` serves them; `wrn export --web`
 * writes them to a folder.
 */
import { copyFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ModelMeta } from '../inference/modelMeta.js';

/** The onnxruntime-web files the page loads (the SIMD + threads WASM build and its loader). */
export const ORT_FILES = ['ort-wasm-simd-threaded.mjs', 'ort-wasm-simd-threaded.wasm'] as const;

/** dist/web: the bundled page (index.html, app.js, style.css). */
export function webRoot(): string {
  const dir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../web');
  if (!existsSync(path.join(dir, 'index.html')) || !existsSync(path.join(dir, 'app.js'))) {
    throw new Error(`the web page is not built (${dir}/index.html or app.js is missing): run \`npm run build\``);
  }
  return dir;
}

/** onnxruntime-web's dist folder in node_modules. */
export function ortDir(): string {
  const main = createRequire(import.meta.url).resolve('onnxruntime-web');
  const dir = path.dirname(main);
  for (const f of ORT_FILES) {
    if (!existsSync(path.join(dir, f))) throw new Error(`onnxruntime-web: ${path.join(dir, f)} is missing (reinstall with npm install)`);
  }
  return dir;
}

/** What the page reads from model.json. `server`: whether /classify exists next to the page. */
export interface PageModel {
  name: string;
  arch: string;
  labels: string[];
  mean: number[];
  std: number[];
  size: number;
  channels: number;
  classes: number;
  server: boolean;
}

export function pageModel(name: string, meta: ModelMeta, server: boolean): PageModel {
  return {
    name, arch: meta.arch, labels: meta.labels, mean: meta.mean, std: meta.std,
    size: meta.inputSize, channels: meta.inChannels, classes: meta.classes, server,
  };
}

/** Writes the page, the WASM runtime, model.onnx and model.json to `dir` (a static site). */
export function writeWebSite(dir: string, onnx: Uint8Array, model: PageModel): string[] {
  const root = webRoot();
  const ort = ortDir();
  mkdirSync(path.join(dir, 'ort'), { recursive: true });
  const written: string[] = [];
  for (const f of ['index.html', 'app.js', 'style.css']) {
    copyFileSync(path.join(root, f), path.join(dir, f));
    written.push(f);
  }
  for (const f of ORT_FILES) {
    copyFileSync(path.join(ort, f), path.join(dir, 'ort', f));
    written.push(`ort/${f}`);
  }
  writeFileSync(path.join(dir, 'model.onnx'), onnx);
  writeFileSync(path.join(dir, 'model.json'), `${JSON.stringify(model, null, 2)}\n`);
  written.push('model.onnx', 'model.json');
  return written;
}
