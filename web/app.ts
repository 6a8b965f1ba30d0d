/**
 * The classification page: pick or drop an image, see it, see the top-5 labels with probabilities and
 * the time taken. "In the browser" runs the exported ONNX with onnxruntime-web (WASM, SIMD, threads
 * when the page is cross-origin isolated); "on the server" posts the file to /classify. Decoding is
 * the browser's (createImageBitmap, EXIF orientation honoured); resize, crop and normalisation are
 * src/preprocess/image.ts, the same module `wrn predict` and `wrn serve` use.
 */
import * as ort from 'onnxruntime-web/wasm';
import { preprocess, type Pixels } from '../src/preprocess/image.js';

interface PageModel {
  name: string;
  arch: string;
  labels: string[];
  mean: number[];
  std: number[];
  size: number;
  channels: 1 | 3;
  classes: number;
  server: boolean;
}

interface Prediction { label: string; index: number; probability: number }

/** What the page exposes for diagnostics (and the browser test): the last input tensor, the thread count. */
interface PageState {
  lastInput: Float32Array | null;
  threads: number;
  isolated: boolean;
  mode: 'browser' | 'server';
}

declare global {
  interface Window { wrnPage: PageState }
}

const TOP = 5;
const el = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;
const state: PageState = { lastInput: null, threads: 1, isolated: globalThis.crossOriginIsolated === true, mode: 'browser' };
window.wrnPage = state;

function setStatus(text: string, kind: 'loading' | 'ready' | 'busy' | 'done' | 'error'): void {
  const s = el('status');
  s.textContent = text;
  s.dataset.state = kind;
}

async function decode(file: Blob): Promise<Pixels> {
  const bitmap = await createImageBitmap(file, { imageOrientation: 'from-image', premultiplyAlpha: 'none', colorSpaceConversion: 'default' });
  const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  if (!ctx) throw new Error('this browser cannot read pixels from a canvas');
  ctx.drawImage(bitmap, 0, 0);
  bitmap.close();
  const img = ctx.getImageData(0, 0, canvas.width, canvas.height);
  return { data: img.data, width: img.width, height: img.height, channels: 4 };
}

function topK(logits: Float32Array, labels: string[], k: number): Prediction[] {
  let max = -Infinity;
  for (const v of logits) max = Math.max(max, v);
  const exps = Array.from(logits, (v) => Math.exp(v - max));
  const sum = exps.reduce((a, b) => a + b, 0);
  return exps.map((e, index) => ({ label: labels[index], index, probability: e / sum }))
    .sort((a, b) => b.probability - a.probability)
    .slice(0, k);
}

function show(predictions: Prediction[], timing: string): void {
  const list = el<HTMLOListElement>('results');
  list.replaceChildren(...predictions.map((p) => {
    const li = document.createElement('li');
    li.dataset.label = p.label;
    li.dataset.index = String(p.index);
    li.dataset.probability = String(p.probability);
    const label = document.createElement('span');
    label.className = 'label';
    label.textContent = p.label;
    const bar = document.createElement('div');
    bar.className = 'bar';
    bar.style.width = `${(100 * p.probability).toFixed(1)}%`;
    const prob = document.createElement('span');
    prob.className = 'prob';
    prob.textContent = `${(100 * p.probability).toFixed(1)}%`;
    li.append(label, bar, prob);
    return li;
  }));
  el('time').textContent = timing;
}

async function classifyInBrowser(file: Blob, model: PageModel, session: ort.InferenceSession): Promise<void> {
  const t0 = performance.now();
  const x = preprocess(await decode(file), { size: model.size, channels: model.channels, mean: model.mean, std: model.std });
  state.lastInput = x;
  const t1 = performance.now();
  const out = await session.run({ input: new ort.Tensor('float32', x, [1, model.channels, model.size, model.size]) });
  const t2 = performance.now();
  show(topK(out.logits.data as Float32Array, model.labels, TOP),
    `in the browser: decode + preprocess ${(t1 - t0).toFixed(1)} ms, inference ${(t2 - t1).toFixed(1)} ms (WASM, ${state.threads} thread${state.threads > 1 ? 's' : ''})`);
}

async function classifyOnServer(file: Blob): Promise<void> {
  const t0 = performance.now();
  const form = new FormData();
  form.append('image', file);
  const res = await fetch(`classify?top=${TOP}`, { method: 'POST', body: form });
  const body = await res.json() as { predictions?: Prediction[]; error?: string };
  if (!res.ok || !body.predictions) throw new Error(body.error ?? `the server answered ${res.status}`);
  show(body.predictions, `on the server: ${(performance.now() - t0).toFixed(1)} ms round trip`);
}

async function main(): Promise<void> {
  if (location.protocol === 'file:') {
    setStatus('This page must be opened from a web server (wrn serve, or a static server that sends the COOP/COEP headers); file:// is not supported.', 'error');
    return;
  }
  const res = await fetch('model.json');
  if (!res.ok) throw new Error(`model.json: the server answered ${res.status}`);
  const model = await res.json() as PageModel;
  el('model').textContent = `${model.name}: ${model.arch}, ${model.classes} classes, input ${model.channels}×${model.size}×${model.size}`;

  // numThreads must be set: onnxruntime-web's default is half the cores (1 on a 2-core machine), and
  // threads need SharedArrayBuffer, which only a cross-origin isolated page has.
  state.threads = state.isolated ? Math.max(1, Math.min(4, navigator.hardwareConcurrency || 1)) : 1;
  ort.env.wasm.numThreads = state.threads;
  ort.env.wasm.wasmPaths = new URL('ort/', location.href).href;
  el('threads').textContent = `(WASM, ${state.threads} thread${state.threads > 1 ? 's' : ''}${state.isolated ? '' : ', page not cross-origin isolated'})`;
  const session = await ort.InferenceSession.create(new URL('model.onnx', location.href).href, { executionProviders: ['wasm'] });

  const serverRadio = document.querySelector<HTMLInputElement>('input[name=mode][value=server]')!;
  if (!model.server) {
    serverRadio.disabled = true;
    serverRadio.parentElement!.title = 'no server next to this static page';
  }
  for (const r of document.querySelectorAll<HTMLInputElement>('input[name=mode]')) {
    r.addEventListener('change', () => { if (r.checked) state.mode = r.value as PageState['mode']; });
  }

  const handle = async (file: File | undefined): Promise<void> => {
    if (!file) return;
    const preview = el<HTMLImageElement>('preview');
    if (preview.src) URL.revokeObjectURL(preview.src);
    preview.src = URL.createObjectURL(file);
    setStatus(`classifying ${file.name}…`, 'busy');
    try {
      if (state.mode === 'server') await classifyOnServer(file);
      else await classifyInBrowser(file, model, session);
      setStatus(`${file.name}: done`, 'done');
    } catch (e) {
      el('results').replaceChildren();
      setStatus(`${file.name}: ${(e as Error).message}`, 'error');
    }
  };
  const input = el<HTMLInputElement>('file');
  input.addEventListener('change', () => void handle(input.files?.[0]));
  const drop = el('drop');
  drop.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('over'); });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    drop.classList.remove('over');
    void handle(e.dataTransfer?.files[0]);
  });
  setStatus('ready: pick an image', 'ready');
}

main().catch((e: unknown) => setStatus(`could not start: ${(e as Error).message}`, 'error'));
