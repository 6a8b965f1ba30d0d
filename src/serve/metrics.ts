/** Prometheus metrics of one server (its own registry, no global state): requests, latency, batches, queue. */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export class ServeMetrics {
  readonly registry = new Registry();
  readonly requests = new Counter({ name: 'wrn_http_requests_total', help: 'HTTP requests by route and status', labelNames: ['method', 'route', 'status'], registers: [this.registry] });
  readonly latency = new Histogram({
    name: 'wrn_http_request_duration_seconds', help: 'HTTP request latency by route', labelNames: ['route'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers: [this.registry],
  });
  readonly batchSize = new Histogram({ name: 'wrn_batch_size', help: 'Images per forward pass', buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256], registers: [this.registry] });
  readonly batchSeconds = new Histogram({
    name: 'wrn_batch_duration_seconds', help: 'Time per forward pass, worker round trip included',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5], registers: [this.registry],
  });
  readonly queueDepth = new Gauge({ name: 'wrn_queue_depth', help: 'Images waiting for a forward pass', registers: [this.registry] });
  readonly rejected = new Counter({ name: 'wrn_queue_rejected_total', help: 'Requests refused with 503 because the queue was full', registers: [this.registry] });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'wrn_' });
  }
}
