/**
 * The inference worker: the only thread of `wrn serve` that loads the native addon (which allows one
 * JavaScript thread). It loads the model, warms up every batch size it will run (oneDNN primitives are
 * created per shape on first use), reports ready with the model's metadata and its ONNX export (for
 * the web page), then runs batches. Each batch is padded with zero rows up to the next warmed size;
 * in eval mode rows are independent, so a request's result does not depend on its batch.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { selectBackend } from '../backend/select.js';
import { setBackend } from '../core/engine.js';
import { buildOnnx } from '../io/onnx.js';
import { loadModel } from '../inference/classifier.js';
import { metaToStrings } from '../inference/modelMeta.js';
import { predictLogits } from '../inference/predict.js';
import { isPredictor } from '../inference/predictor.js';
import { readInt8Weights } from '../quant/int8File.js';
import { buildQdqOnnx } from '../quant/onnxQdq.js';
import type { FromWorker, ToWorker, WorkerConfig } from './protocol.js';

const port = parentPort;
if (!port) throw new Error('src/serve/worker.js runs as a worker thread (started by wrn serve)');
const cfg = workerData as WorkerConfig;
const post = (m: FromWorker, transfer: ArrayBuffer[] = []): void => port.postMessage(m, transfer);

try {
  const { backend, notice } = selectBackend(cfg.backend, cfg.precision);
  setBackend(backend);
  const clf = await loadModel(cfg.weights);
  const { inChannels: c, inputSize: s, classes } = clf.meta;
  const per = c * s * s;
  const sizes = [...cfg.batchSizes].sort((a, b) => a - b);
  const t0 = performance.now();
  for (const n of sizes) predictLogits(clf.model, new Float32Array(n * per), [n, c, s, s]);
  const warmupMs = performance.now() - t0;
  // int8 weights run in int8 here, and the page gets their QDQ graph.
  const exportOpts = { dynamicBatch: true, inputSize: s, metadata: metaToStrings(clf.meta) };
  const onnx = isPredictor(clf.model)
    ? buildQdqOnnx(readInt8Weights(cfg.weights).weights, clf.meta, cfg.weights, exportOpts).bytes
    : buildOnnx(clf.model, exportOpts);
  post({ type: 'ready', meta: clf.meta, backend: notice.replace(/^backend: /, ''), onnx, warmupMs }, [onnx.buffer as ArrayBuffer]);

  // The server ends this thread with terminate() once its batches are done; nothing outlives it.
  port.on('message', (m: ToWorker) => {
    try {
      const padded = sizes.find((n) => n >= m.rows);
      if (padded === undefined) throw new Error(`batch of ${m.rows} rows is larger than the largest warmed size ${sizes[sizes.length - 1]}`);
      const x = padded === m.rows ? m.x : padTo(m.x, padded * per);
      const t = performance.now();
      const all = predictLogits(clf.model, x, [padded, c, s, s]);
      const logits = all.slice(0, m.rows * classes);
      post({ type: 'result', id: m.id, logits, ms: performance.now() - t, padded }, [logits.buffer]);
    } catch (e) {
      post({ type: 'failed', id: m.id, message: (e as Error).message });
    }
  });
} catch (e) {
  post({ type: 'error', message: (e as Error).message });
}

function padTo(x: Float32Array, length: number): Float32Array {
  const out = new Float32Array(length);
  out.set(x);
  return out;
}
