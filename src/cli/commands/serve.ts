import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import type { Precision } from '../../backend/backend.js';
import type { BackendChoice } from '../../backend/select.js';
import { batchSizes } from '../../serve/batcher.js';
import { InferenceWorker } from '../../serve/inference.js';
import { createServer } from '../../serve/server.js';
import { intFlag, numberFlag, UserError } from '../userError.js';

interface ServeFlags {
  weights: string;
  name?: string;
  host: string;
  port: string;
  maxBatch: string;
  batchWindowMs: string;
  maxQueue: string;
  maxBodyMb: string;
  backend?: string;
  precision?: string;
  isolation: boolean;
}

export function register(program: Command): void {
  program
    .command('serve')
    .description('HTTP server: Open Inference Protocol (/v2), /classify for image uploads, the web page at /, /metrics; dynamic batching')
    .requiredOption('--weights <file>', 'weights with metadata (.safetensors from wrn train, or converted)')
    .option('--name <name>', 'model name in /v2/models/NAME (default: the weights file name without extension)')
    .option('--host <addr>', 'address to listen on', '127.0.0.1')
    .option('--port <n>', 'port (0: any free port, printed)', '8080')
    .option('--max-batch <n>', 'largest forward pass (images)', '32')
    .option('--batch-window-ms <ms>', 'how long the first queued request waits for others to join its batch', '5')
    .option('--max-queue <n>', 'images waiting at most; beyond that requests get 503 with Retry-After', '256')
    .option('--max-body-mb <mb>', 'largest request body (413 beyond)', '10')
    .option('--backend <b>', 'auto | js | native (default auto: native when it loads)')
    .option('--precision <p>', 'fp32 | bf16 (bf16 needs the native backend)')
    .option('--no-isolation', 'do not send COOP/COEP (the page then runs WASM on one thread)')
    .action(async (f: ServeFlags) => {
      if (!existsSync(f.weights)) throw new UserError(`${f.weights}: no such weights file`);
      const name = f.name ?? path.basename(f.weights).replace(/\.[^.]+$/, '');
      if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(name)) throw new UserError(`--name: '${name}' is not a valid model name (letters, digits, '_', '.', '-')`);
      const port = intFlag('--port', f.port, 0)!;
      if (port > 65535) throw new UserError(`--port: expected 0..65535, got ${port}`);
      const maxBatch = intFlag('--max-batch', f.maxBatch)!;
      if (maxBatch > 1024) throw new UserError(`--max-batch: expected 1..1024, got ${maxBatch}`);
      const windowMs = numberFlag('--batch-window-ms', f.batchWindowMs, 0, 10_000)!;
      const maxQueue = intFlag('--max-queue', f.maxQueue)!;
      if (maxQueue < maxBatch) throw new UserError(`--max-queue: ${maxQueue} is below --max-batch ${maxBatch}`);
      const bodyLimit = Math.round(numberFlag('--max-body-mb', f.maxBodyMb, 0.001, 1024)! * 2 ** 20);
      const backend = f.backend ?? 'auto';
      if (!['auto', 'js', 'native'].includes(backend)) throw new UserError(`--backend: expected auto, js or native, got '${backend}'`);
      const precision = f.precision ?? 'fp32';
      if (precision !== 'fp32' && precision !== 'bf16') throw new UserError(`--precision: expected fp32 or bf16, got '${precision}'`);

      const server = await createServer({ name, maxBatch, windowMs, maxQueue, bodyLimit, isolate: f.isolation });
      // Listen first: /v2/health/live answers during loading and warm-up; ready comes after.
      const address = await server.app.listen({ host: f.host, port });
      console.log(`wrn serve: listening on ${address} (model '${name}' loading)`);
      const sizes = batchSizes(maxBatch);
      let worker: InferenceWorker;
      try {
        worker = await InferenceWorker.start({ weights: f.weights, backend: backend as BackendChoice, precision: precision as Precision, batchSizes: sizes });
      } catch (e) {
        await server.app.close();
        const msg = (e as Error).message;
        throw new UserError(msg.includes(f.weights) ? msg : `${f.weights}: ${msg}`);
      }
      server.attach(worker);
      const { arch, inChannels: c, inputSize: s, classes } = worker.meta;
      console.log(`wrn serve: ready: ${name} (${arch}, input [N,${c},${s},${s}], ${classes} classes) on ${worker.backend}; ` +
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
