import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { batchSizes } from '../../serve/batcher.js';
import { InferenceWorker } from '../../serve/inference.js';
import { createServer } from '../../serve/server.js';
import { addFlags, checkValue, COMPUTE, readFlags, required, SERVE, withDefault } from '../flags.js';
import { UserError } from '../userError.js';

const FLAGS = {
  ...SERVE,
  weights: required(SERVE.weights),
  host: withDefault(SERVE.host, '127.0.0.1'),
  port: withDefault(SERVE.port, 8080),
  maxBatch: withDefault(SERVE.maxBatch, 32),
  batchWindowMs: withDefault(SERVE.batchWindowMs, 5),
  maxQueue: withDefault(SERVE.maxQueue, 256),
  maxBodyMb: withDefault(SERVE.maxBodyMb, 10),
  ...COMPUTE,
};

export function register(program: Command): void {
  const cmd = program
    .command('serve')
    .description('HTTP server: Open Inference Protocol (/v2), /classify for image uploads, the web page at /, /metrics; dynamic batching');
  addFlags(cmd, FLAGS)
    .action(async (_opts: unknown, c: Command) => {
      const f = readFlags(FLAGS, c);
      if (!existsSync(f.weights)) throw new UserError(`${f.weights}: no such weights file`);
      const name = f.name ?? checkValue(SERVE.name, path.basename(f.weights).replace(/\.[^.]+$/, ''), '--name (from the weights file name)');
      if (f.maxQueue < f.maxBatch) throw new UserError(`--max-queue: ${f.maxQueue} is below --max-batch ${f.maxBatch}`);
      const bodyLimit = Math.round(f.maxBodyMb * 2 ** 20);

      const server = await createServer({ name, maxBatch: f.maxBatch, windowMs: f.batchWindowMs, maxQueue: f.maxQueue, bodyLimit, isolate: f.isolation !== false });
      // Listen first: /v2/health/live answers during loading and warm-up; ready comes after.
      const address = await server.app.listen({ host: f.host, port: f.port });
      console.log(`wrn serve: listening on ${address} (model '${name}' loading)`);
      const sizes = batchSizes(f.maxBatch);
      let worker: InferenceWorker;
      try {
        worker = await InferenceWorker.start({ weights: f.weights, backend: f.backend ?? 'auto', precision: f.precision ?? 'fp32', batchSizes: sizes });
      } catch (e) {
        await server.app.close();
        const msg = (e as Error).message;
        throw new UserError(msg.includes(f.weights) ? msg : `${f.weights}: ${msg}`);
      }
      server.attach(worker);
      const { arch, inChannels: ch, inputSize: s, classes } = worker.meta;
      console.log(`wrn serve: ready: ${name} (${arch}, input [N,${ch},${s},${s}], ${classes} classes) on ${worker.backend}; ` +
        `batch sizes ${sizes.join(',')} warmed in ${(worker.warmupMs / 1000).toFixed(1)} s; page at ${address}/`);

      // SIGTERM/SIGINT: stop accepting, let in-flight requests (and their batches) finish, then exit 0.
      let closing = false;
      const shutdown = async (signal: string): Promise<void> => {
        if (closing) return;
        closing = true;
        console.log(`wrn serve: ${signal}: draining in-flight requests`);
        await server.app.close();
        await server.idle();
        await worker.close();
        console.log('wrn serve: stopped');
        process.exit(0);
      };
      process.on('SIGTERM', () => void shutdown('SIGTERM'));
      process.on('SIGINT', () => void shutdown('SIGINT'));
    });
}
