/** Helpers for the serve and browser tests: tiny models with metadata, and `wrn serve` as a child process. */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { JsBackend } from '../../src/backend/js/index.js';
import { setBackend } from '../../src/core/engine.js';
import { createModel } from '../../src/models/registry.js';
import { saveWeights } from '../../src/inference/weights.js';
import type { ModelMeta } from '../../src/inference/modelMeta.js';

export const BIN = path.resolve(process.cwd(), 'bin/wrn.js');
export const CIFAR10 = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'];
export const FASHION = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'];

/**
 * A WRN-10-1 with random weights and full metadata. The classifier's weights are scaled up so that
 * the top-5 probabilities are well apart (a random net's are nearly uniform, and near-ties could
 * reorder between two correct implementations).
 */
export function writeTinyModel(file: string, o: { channels: 1 | 3; size: number; labels: string[]; mean: number[]; std: number[]; seed: number }): ModelMeta {
  setBackend(new JsBackend());
  const model = createModel('wrn-10-1', { classes: o.labels.length, inChannels: o.channels, seed: o.seed });
  const state = model.stateDictArrays();
  const fc = state.get('fc.weight')!;
  for (let i = 0; i < fc.data.length; i++) fc.data[i] *= 12;
  model.loadStateDict(state);
  const meta: ModelMeta = {
    arch: 'wrn-10-1', classes: o.labels.length, inChannels: o.channels, inputSize: o.size,
    mean: o.mean, std: o.std, labels: o.labels, activation: 'relu', dropout: 0,
  };
  saveWeights(file, model, meta);
  model.dispose();
  return meta;
}

export interface Served {
  url: string;
  proc: ChildProcess;
  out: () => string;
  /** SIGTERM, then the exit code. */
  stop(): Promise<number | null>;
}

/** Starts `wrn serve ... --port 0` and resolves once it prints that it is ready. */
export function serve(args: string[], timeoutMs = 120_000): Promise<Served> {
  const proc = spawn(process.execPath, [BIN, 'serve', '--host', '127.0.0.1', '--port', '0', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { proc.kill('SIGKILL'); reject(new Error(`wrn serve did not get ready in ${timeoutMs} ms:\n${out}`)); }, timeoutMs);
    const onData = (b: Buffer): void => {
      out += b.toString();
      const url = /listening on (http:\/\/[^ ]+)/.exec(out)?.[1];
      if (url && /ready: /.test(out)) {
        clearTimeout(timer);
        resolve({
          url, proc, out: () => out,
          async stop() {
            if (proc.exitCode === null) proc.kill('SIGTERM');
            return exited;
          },
        });
      }
    };
    proc.stdout!.on('data', onData);
    proc.stderr!.on('data', onData);
    void exited.then((code) => { clearTimeout(timer); reject(new Error(`wrn serve exited (${code}) before it was ready:\n${out}`)); });
  });
}

export interface PredictRow { input: string; logits: number[]; probs: number[]; top: { label: string; index: number; probability: number }[] }

/** `wrn predict --json --top 5` on image files. */
export function predict(weights: string, files: string[]): PredictRow[] {
  const r = spawnSync(process.execPath, [BIN, 'predict', '--weights', weights, '--json', '--top', '5', ...files], { encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0) throw new Error(`wrn predict failed: ${r.stderr}`);
  return r.stdout.trim().split('\n').map((l) => JSON.parse(l) as PredictRow);
}
