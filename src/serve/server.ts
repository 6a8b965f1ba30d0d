/**
 * `wrn serve`'s HTTP server (fastify): the Open Inference Protocol routes, /classify, the web page,
 * /metrics. Inference goes through the dynamic batcher to the inference worker; the event loop only
 * parses, decodes and preprocesses, so health answers while a batch runs.
 */
import fastifyMultipart from '@fastify/multipart';
import fastifyStatic from '@fastify/static';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { decodePixels, DecodeError } from '../preprocess/decode.js';
import { preprocess, PreprocessError } from '../preprocess/image.js';
import { softmaxRows } from '../inference/predict.js';
import { topK } from '../inference/classifier.js';
import type { ModelMeta } from '../inference/modelMeta.js';
import { Batcher, QueueFullError } from './batcher.js';
import { HttpError } from './httpError.js';
import type { BatchResult } from './inference.js';
import { ServeMetrics } from './metrics.js';
import { inferResponse, modelMetadata, parseInferRequest, type ModelInfo } from './oip.js';
import { ortDir, ORT_FILES, pageModel, webRoot } from './webAssets.js';

/** What the server needs from the inference side (the worker, once it is warm). */
export interface Engine {
  meta: ModelMeta;
  backend: string;
  onnx: Uint8Array;
  run(x: Float32Array, rows: number): Promise<BatchResult>;
}

export interface ServeOptions {
  name: string;
  maxBatch: number;
  windowMs: number;
  maxQueue: number;
  bodyLimit: number;
  /** Send COOP/COEP so the page is cross-origin isolated (WASM threads). */
  isolate: boolean;
  /** Seconds in the Retry-After of a 503. */
  retryAfter?: number;
}

export interface Server {
  app: FastifyInstance;
  metrics: ServeMetrics;
  /** Makes the model available: from then on /v2/health/ready answers 200. */
  attach(engine: Engine): void;
  /** Resolves once no batch is queued or running. */
  idle(): Promise<void>;
}

const VERSION = '0.1.0';

export async function createServer(o: ServeOptions): Promise<Server> {
  const metrics = new ServeMetrics();
  const app = Fastify({ bodyLimit: o.bodyLimit, logger: false, return503OnClosing: true });
  let model: { info: ModelInfo; engine: Engine; batcher: Batcher } | null = null;

  await app.register(fastifyMultipart, { limits: { fileSize: o.bodyLimit, files: 1, fields: 4, parts: 5 } });
  app.addContentTypeParser(/^image\//, { parseAs: 'buffer', bodyLimit: o.bodyLimit }, (_req, body, done) => done(null, body));
  const root = webRoot();
  await app.register(fastifyStatic, { root, prefix: '/', index: 'index.html', wildcard: false, allowedPath: (p) => ['/', '/index.html', '/app.js', '/style.css'].includes(p) });
  await app.register(fastifyStatic, { root: ortDir(), prefix: '/ort/', decorateReply: false, wildcard: false, allowedPath: (p) => (ORT_FILES as readonly string[]).includes(p.replace(/^\/+/, '')) });

  if (o.isolate) {
    // Cross-origin isolation lets the page use SharedArrayBuffer, hence WASM threads.
    app.addHook('onSend', async (_req, reply) => {
      reply.header('Cross-Origin-Opener-Policy', 'same-origin');
      reply.header('Cross-Origin-Embedder-Policy', 'require-corp');
      reply.header('Cross-Origin-Resource-Policy', 'same-origin');
    });
  }
  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url ?? 'unmatched';
    metrics.requests.inc({ method: req.method, route, status: String(reply.statusCode) });
    metrics.latency.observe({ route }, reply.elapsedTime / 1000);
  });
  app.setNotFoundHandler((req, reply) => {
    void reply.code(404).send({ error: `no route ${req.method} ${req.url.split('?')[0]}` });
  });
  app.setErrorHandler((err: Error & { statusCode?: number; code?: string }, _req, reply) => {
    if (err instanceof HttpError) return reply.code(err.statusCode).headers(err.headers).send({ error: err.message });
    if (err instanceof DecodeError || err instanceof PreprocessError) return reply.code(400).send({ error: err.message });
    const status = err.statusCode ?? 500;
    if (status === 413) return reply.code(413).send({ error: `request body larger than the ${o.bodyLimit} bytes accepted (--max-body-mb)` });
    if (status >= 400 && status < 500) {
      const code = status === 406 ? 415 : status; // multipart's "not multipart" is a media-type problem
      return reply.code(code).send({ error: err.message });
    }
    console.error(`wrn serve: ${err.stack ?? err.message}`);
    return reply.code(500).send({ error: 'internal error (logged by the server)' });
  });

  const ready = (): NonNullable<typeof model> => {
    if (!model) throw new HttpError(503, 'the model is still loading (see /v2/health/ready)', { 'Retry-After': '1' });
    return model;
  };
  const byName = (req: FastifyRequest): NonNullable<typeof model> => {
    const { name } = req.params as { name: string };
    if (name !== o.name) throw new HttpError(404, `model '${name}' not found; this server serves '${o.name}'`);
    return ready();
  };
  const infer = async (m: NonNullable<typeof model>, x: Float32Array, rows: number): Promise<Float32Array> => {
    try {
      return await m.batcher.submit(x, rows);
    } catch (e) {
      if (e instanceof QueueFullError) {
        metrics.rejected.inc();
        throw new HttpError(503, e.message, { 'Retry-After': String(o.retryAfter ?? 1) });
      }
      throw e;
    }
  };

  // ---- Open Inference Protocol ------------------------------------------------------------------
  app.get('/v2', async () => ({ name: 'wide-resnet', version: VERSION, extensions: ['classification'] }));
  app.get('/v2/health/live', async () => ({ live: true }));
  // The protocol: 200 means ready, a 4xx means not (yet).
  app.get('/v2/health/ready', async (_req, reply) => reply.code(model ? 200 : 400).send({ ready: model !== null }));
  app.get('/v2/models/:name', async (req) => modelMetadata(byName(req).info));
  app.get('/v2/models/:name/ready', async (req, reply) => {
    const { name } = req.params as { name: string };
    if (name !== o.name) throw new HttpError(404, `model '${name}' not found; this server serves '${o.name}'`);
    return reply.code(model ? 200 : 400).send({ name, ready: model !== null });
  });
  app.post('/v2/models/:name/infer', async (req) => {
    const m = byName(req);
    const r = parseInferRequest(req.body, m.info);
    return inferResponse(m.info, r, await infer(m, r.x, r.rows));
  });

  // ---- image classification and the page ---------------------------------------------------------
  app.post('/classify', async (req: FastifyRequest, reply: FastifyReply) => {
    const m = ready();
    const k = topParam(req, m.info.meta.classes);
    const image = await imageBody(req);
    const t0 = performance.now();
    const { inputSize: size, inChannels, mean, std, classes, labels } = m.info.meta;
    if (inChannels !== 1 && inChannels !== 3) throw new HttpError(400, `the model takes ${inChannels} input channels; only 1 or 3 can be decoded from images`);
    const x = preprocess(await decodePixels(image, 'image'), { size, channels: inChannels, mean, std });
    const t1 = performance.now();
    const logits = await infer(m, x, 1);
    const predictions = topK(softmaxRows(logits, 1, classes), labels, k);
    return reply.send({ model: o.name, predictions, ms: { preprocess: t1 - t0, inference: performance.now() - t1 } });
  });
  app.get('/model.json', async () => pageModel(o.name, ready().info.meta, true));
  app.get('/model.onnx', async (_req, reply) => reply.type('application/octet-stream').send(Buffer.from(ready().engine.onnx)));
  app.get('/metrics', async (_req, reply) => reply.type(metrics.registry.contentType).send(await metrics.registry.metrics()));

  return {
    app,
    metrics,
    attach(engine: Engine): void {
      const { inChannels: c, inputSize: s, classes } = engine.meta;
      const batcher = new Batcher((x, rows) => engine.run(x, rows), { maxBatch: o.maxBatch, windowMs: o.windowMs, maxQueue: o.maxQueue, rowIn: c * s * s, rowOut: classes }, {
        onBatch: (rows, ms) => { metrics.batchSize.observe(rows); metrics.batchSeconds.observe(ms / 1000); },
        onDepth: (rows) => metrics.queueDepth.set(rows),
      });
      model = { info: { name: o.name, meta: engine.meta, maxBatch: o.maxBatch, backend: engine.backend }, engine, batcher };
    },
    idle: () => model?.batcher.idle() ?? Promise.resolve(),
  };
}

function topParam(req: FastifyRequest, classes: number): number {
  const q = req.query as Record<string, unknown>;
  if (q.top === undefined) return Math.min(5, classes);
  const k = Number(q.top);
  if (!Number.isInteger(k) || k < 1 || k > classes) throw new HttpError(400, `?top=${String(q.top)}: expected an integer in 1..${classes}`);
  return k;
}

/** The uploaded image: the one file of a multipart form, or an image/* body. */
async function imageBody(req: FastifyRequest): Promise<Buffer> {
  if (req.isMultipart()) {
    const file = await req.file();
    if (!file) throw new HttpError(400, 'multipart body without a file: expected one image file (field "image")');
    const buf = await file.toBuffer();
    if (buf.length === 0) throw new HttpError(400, `file field "${file.fieldname}" is empty: expected a PNG, JPEG or WebP image`);
    return buf;
  }
  if (Buffer.isBuffer(req.body)) {
    if (req.body.length === 0) throw new HttpError(400, 'empty image body: expected a PNG, JPEG or WebP image');
    return req.body;
  }
  throw new HttpError(415, `content type '${req.headers['content-type'] ?? 'none'}': expected multipart/form-data with one image file, or an image/* body`);
}
