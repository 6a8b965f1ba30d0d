/**
 * Every flag of `wrn`, declared once, and the one schema (zod) that validates flags and `--config` files.
 *
 * Shape of this module:
 * - A `Flag` (./flag.ts) is one option: commander's spelling (`--batch <N>`), its help, the zod schema of
 *   its typed value (what a `--config` key holds, bounds included), how a command-line string becomes that
 *   value (`fromArg`), an optional default and whether `--config` may set it.
 * - Flags live in groups named for what they describe: ARCH, MODEL_SHAPE, DATA, RECIPE, COMPUTE, RUN,
 *   OUTPUT, and one group per command for the flags only that command has (BENCH, EVAL, PLAN, ...).
 * - A command spreads the groups it takes into one record, `addFlags(cmd, FLAGS)` declares them with
 *   commander, and `readFlags(FLAGS, cmd)` returns typed values: only the flags given on the command line,
 *   over the `--config` file's keys (when FLAGS has `config`), over the defaults; or it throws one
 *   UserError line naming the flag or key and what was expected.
 * - The machinery (Flag, builders, addFlags, readFlags, reading --config) is in ./flag.ts and re-exported
 *   here; checks that relate several values (memory for batch x image size, run directories, resume) are
 *   in ./checks.ts; what a command does with the values is in ./commands/.
 *
 * Adding a flag: add it to its group below; every command that takes the group gets its parsing,
 * validation, help and (with `config: true`) its `--config` key. A new command adds its own group here.
 */
import { availableParallelism } from 'node:os';
import { z } from 'zod';
import { ACTIVATIONS } from '../backend/backend.js';
import { MetaBackend } from '../backend/meta.js';
import { withBackend } from '../core/engine.js';
import { LAYOUTS } from '../io/stateDict.js';
import { createModel } from '../models/registry.js';
import { BLOCK_TYPES } from '../models/wideResNet.js';
import { PAPER_DEFAULTS } from '../train/trainer.js';
import { amount, asNumber, bool, identity, int, intIn, list, make, num, oneOf, text } from './flag.js';

export {
  addFlags, checkValue, flagName, givenNames, parseAmount, readConfig, readFlags, required, withDefault,
  type Flag, type Flags, type Values,
} from './flag.js';

/** An architecture name that builds (bounded by the registry), checked on the shapes-only backend: no memory. */
const archName = z.string({ error: 'expected an architecture name such as wrn-16-4' }).superRefine((name, ctx) => {
  try {
    withBackend(new MetaBackend(), () => createModel(name));
  } catch (e) {
    ctx.addIssue({ code: 'custom', message: (e as Error).message });
  }
});

// ---------------------------------------------------------------------------------------------------
// Bounds. Sizes that allocate memory are bounded here; their product (batch x image) is checked in checks.ts.

const MAX_EPOCHS = 100_000;
/** Training and benchmark batches are bounded by the memory they need (checks.ts); others by this. */
const MAX_BATCH = 1 << 16;
const MAX_TRAIN_BATCH = 2 ** 31 - 1;
const MAX_IMAGE_SIZE = 8192;
const MAX_CLASSES = 100_000;
const MAX_CHANNELS = 1024;
const MAX_IMAGES = 1e9;
/** Augmentation workers beyond the cores only contend; 0 runs it on the main thread. */
export const MAX_WORKERS = availableParallelism();

/** Largest forward pass `wrn serve` runs (and Triton's max_batch_size): each is warmed up before ready. */
const MAX_SERVE_BATCH = 1024;

/** A model name in URLs (/v2/models/NAME) and Triton repositories. */
const modelName = z.string({ error: 'expected a model name' }).regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/, { error: "expected a model name of letters, digits, '_', '.', '-'" });

// ---------------------------------------------------------------------------------------------------
// Groups.

/** The network to build. */
export const ARCH = {
  arch: make('--arch <name>', 'architecture (wrn-16-4, wrn-28-10, preact-resnet-164, wide-resnet50-2, ...)', archName, identity),
};

/** Shape of a network's input and output, for commands that build one without a run's metadata. */
export const MODEL_SHAPE = {
  classes: int('--classes <K>', 'number of classes', 1, MAX_CLASSES, false),
  inChannels: int('--in-channels <C>', 'input channels', 1, MAX_CHANNELS, false),
  inputSize: int('--input-size <S>', 'input height = width', 1, MAX_IMAGE_SIZE, false),
};

/** Which data, how much of it, and how it is loaded. */
export const DATA = {
  data: text('--data <name|path>', 'fashion-mnist, mnist, cifar10, cifar100, an image folder or a .safetensors file'),
  limit: int('--limit <N>', 'train on the first N training images only (0: all)', 0, MAX_IMAGES),
  evalLimit: int('--eval-limit <N>', 'evaluate on the first N validation/test images only (0: all)', 0, MAX_IMAGES),
  valSize: int('--val-size <N>', `training images held out for validation (default ${PAPER_DEFAULTS.valSize}; 0: none)`, 0, MAX_IMAGES),
  workers: make('--workers <N>', `augmentation worker threads (default ${PAPER_DEFAULTS.workers}; 0: main thread)`,
    intIn(0, MAX_WORKERS, ` (this machine has ${MAX_WORKERS} cores)`), asNumber),
  imageSize: int('--image-size <S>', 'image folders: resize + center-crop to S x S (default 32)', 1, MAX_IMAGE_SIZE),
  channels: make('--channels <C>', 'image folders: 1 (grayscale) or 3 (RGB, default)',
    z.union([z.literal(1), z.literal(3)], { error: 'expected 1 or 3' }), asNumber),
};

/** The training recipe: what a run computes (the paper's values by default). */
export const RECIPE = {
  epochs: int('--epochs <N>', `epochs (default ${PAPER_DEFAULTS.epochs})`, 1, MAX_EPOCHS),
  batch: int('--batch <N>', `batch size (default ${PAPER_DEFAULTS.batch})`, 1, MAX_TRAIN_BATCH),
  lr: num('--lr <x>', `initial learning rate (default ${PAPER_DEFAULTS.lr})`, 0, 100, true),
  schedule: oneOf('--schedule <name>', 'paper | cosine | onecycle (default paper)', ['paper', 'cosine', 'onecycle']),
  warmup: num('--warmup <E>', 'linear warm-up epochs (default 0)', 0, MAX_EPOCHS),
  dropout: num('--dropout <p>', 'dropout in the WRN blocks (default 0.3 for WRNs; the other nets have none)', 0, 0.99),
  wd: num('--wd <x>', `weight decay (default ${PAPER_DEFAULTS.wd})`, 0, 1),
  labelSmoothing: num('--label-smoothing <x>', 'label smoothing (default 0)', 0, 0.99),
  activation: oneOf('--activation <name>', `activation: ${ACTIVATIONS.join(', ')} (default relu)`, ACTIVATIONS),
  seed: int('--seed <S>', 'seed of init, shuffling, augmentation and dropout (default 0)', 0, 2 ** 32 - 1),
  crop: int('--crop <P>', 'random-crop padding in pixels (default 4; 0: off)', 0, 256),
  pad: oneOf('--pad <mode>', 'crop padding: reflect | zero (default reflect)', ['reflect', 'zero']),
  flip: bool('--no-flip', 'no random horizontal flips', true),
  cutout: int('--cutout <S>', 'Cutout square size in pixels (default 0: off)', 0, MAX_IMAGE_SIZE),
};

/** Fine-tuning: where a run starts from and what it may change. */
export const FINETUNE = {
  init: text('--init <file>', 'fine-tune: start from these weights (.safetensors or .pth); the classifier is replaced when the classes differ'),
  freezeStages: int('--freeze-stages <K>', 'fine-tune: freeze the stem and the first K stages, batch norm included (K = all: train the classifier only)', 0, 8),
  headLrMult: num('--head-lr-mult <M>', 'fine-tune: learning-rate multiplier of the classifier (default 1)', 0, 1000, true),
};

/** Where the arithmetic runs. */
export const COMPUTE = {
  backend: oneOf('--backend <b>', 'auto | js | native (default auto: native when it loads)', ['auto', 'js', 'native']),
  precision: oneOf('--precision <p>', 'fp32 | bf16 (default fp32; bf16 needs the native backend)', ['fp32', 'bf16']),
};

/** How results are printed. */
export const OUTPUT = {
  json: bool('--json', 'print one JSON object'),
};

/** A training run's directory. */
export const RUN = {
  out: text('--out <dir>', 'run directory (default runs/<arch>-<data>)'),
  resume: text('--resume <dir>', 'continue the run in DIR where it stopped (only --backend and --workers may change)', false),
  overwrite: bool('--overwrite', 'train into an --out that already holds a run, replacing it'),
};

/** Data-parallel runs under mpirun (ignored by a plain run). */
export const DISTRIBUTED = {
  syncBn: bool('--sync-bn', "under mpirun: batch-norm statistics over the global batch (default: each rank's own)", true),
  bucketMb: num('--bucket-mb <MB>', 'under mpirun: gradient allreduce bucket size in MiB (default 4)', 0, 4096, true),
  commTimeout: num('--comm-timeout <S>', 'under mpirun: seconds a rank waits for the others before the job is aborted (default 300)', 0, 7 * 24 * 3600, true),
};

/** Options read from a JSON file (keys: the flags' names in camelCase; flags win). */
export const CONFIG = {
  config: text('--config <file.json>', 'read options from a JSON file: keys are the flag names in camelCase (flags win)', false),
};

/** `wrn compare`: the architectures and seeds compared. */
export const COMPARE = {
  archs: list('--archs <list>', 'comma-separated architectures, e.g. wrn-16-4,wrn-40-2,preact-resnet-110', archName, identity),
  seeds: list('--seeds <list>', 'comma-separated seeds (init, shuffling, augmentation, dropout)', intIn(0, 2 ** 32 - 1), asNumber),
  minutes: num('--minutes <M>', 'wall-time budget per run: each architecture gets the epoch count that a short timing says fits ' +
    '(the schedule completes; runs are not cut)', 0, 7 * 24 * 60, true),
  out: text('--out <dir>', 'comparison directory (default runs/compare-<data>)'),
};

/** `wrn bench`: what is timed. */
export const BENCH = {
  mode: oneOf('--mode <m>', 'train | infer', ['train', 'infer']),
  steps: int('--steps <N>', 'measured steps', 1, 100_000),
  warmup: int('--warmup <N>', 'warm-up steps, not measured', 0, 10_000),
  precision: oneOf('--precision <p>', 'fp32 | bf16 | int8 (default fp32; bf16 and int8 need the native backend; int8 times inference of the ' +
    'net quantized on random data)', ['fp32', 'bf16', 'int8']),
};

/** `wrn eval`. */
export const EVAL = {
  weights: text('--weights <file>', 'weights (.safetensors written by wrn train, or a converted file)'),
  data: text('--data <name|path>', 'dataset (default: the one the weights were trained on)'),
  split: oneOf('--split <s>', 'test | val', ['test', 'val']),
  valSize: int('--val-size <N>', 'validation hold-out used in training (default 5000, as wrn train)', 1, MAX_IMAGES),
  tta: oneOf('--tta <mode>', 'test-time augmentation: none | flip', ['none', 'flip']),
  batch: int('--batch <N>', 'batch size', 1, MAX_BATCH),
  limit: int('--limit <N>', 'evaluate the first N images only', 1, MAX_IMAGES),
  out: text('--out <dir>', 'where to write confusion.{svg,png} and eval.json (default: next to the weights)'),
  fp32: text('--fp32 <file>', 'with int8 --weights: the fp32 weights they came from, evaluated on the same images; prints the accuracy change'),
};

/** `wrn quantize`. */
export const QUANTIZE = {
  weights: text('--weights <file>', 'fp32 weights of a pre-activation net (wrn-D-K, preact-resnet-N)'),
  calib: text('--calib <name|path>', 'calibration images: a dataset name or path (its training split is sampled)'),
  calibSize: int('--calib-size <N>', 'calibration images, drawn with --seed (default 1000)', 1, MAX_IMAGES),
  method: oneOf('--method <m>', 'activation ranges: minmax | percentile | entropy (default percentile: the most accurate measured, see README)', ['minmax', 'percentile', 'entropy']),
  percentile: num('--percentile <p>', 'percentile for --method percentile (default 99.99)', 50, 100),
  weightBits: oneOf('--weight-bits <b>', '8, or 7 for CPUs without VNNI (default: 8 with VNNI, else 7)', ['7', '8']),
  seed: int('--seed <S>', 'seed of the calibration sample (default 0)', 0, 2 ** 32 - 1),
  out: text('--out <file>', 'int8 weights file to write (.safetensors)'),
};

/** `wrn predict`. */
export const PREDICT = {
  weights: text('--weights <file>', 'weights (.safetensors or PyTorch .pth)'),
  top: int('--top <k>', 'number of labels to show', 1, MAX_CLASSES),
  arch: make('--arch <name>', 'architecture, for weights without metadata (a plain PyTorch state dict)', archName, identity, false),
};

/** `wrn export`. */
export const EXPORT = {
  weights: text('--weights <file>', 'weights (.safetensors, or a PyTorch .pth state dict)'),
  onnx: text('--onnx <out>', 'the .onnx file to write'),
  opset: int('--opset <n>', 'ONNX opset', 13, 21),
  dynamicBatch: bool('--dynamic-batch', 'symbolic batch dimension (default: fixed --batch-size)'),
  batchSize: int('--batch-size <n>', 'fixed batch size without --dynamic-batch', 1, MAX_BATCH),
  arch: make('--arch <name>', 'architecture, for weights without metadata', archName, identity, false),
  verify: bool('--verify', 'run the exported model with onnxruntime-node (if installed) and compare with our forward'),
  int8: bool('--int8', 'int8 weights (from wrn quantize) -> a QDQ ONNX model (QuantizeLinear/DequantizeLinear around each int8 conv)'),
  web: text('--web <dir>', 'write the classification page (runs the model in the browser) as static files', false),
  triton: text('--triton <dir>', 'write a Triton model repository (ONNX, config.pbtxt with dynamic batching, labels)', false),
  name: make('--name <name>', 'model name for --triton/--web (default: the weights file name without extension)', modelName, identity, false),
  maxBatch: int('--max-batch <n>', 'max_batch_size for --triton', 1, MAX_SERVE_BATCH, false),
};

/** `wrn serve`. */
export const SERVE = {
  weights: text('--weights <file>', 'weights with metadata (.safetensors from wrn train, or converted)', false),
  name: make('--name <name>', 'model name in /v2/models/NAME (default: the weights file name without extension)', modelName, identity, false),
  host: text('--host <addr>', 'address to listen on', false),
  port: int('--port <n>', 'port (0: any free port, printed)', 0, 65535, false),
  maxBatch: int('--max-batch <n>', 'largest forward pass (images)', 1, MAX_SERVE_BATCH, false),
  batchWindowMs: num('--batch-window-ms <ms>', 'how long the first queued request waits for others to join its batch', 0, 10_000),
  maxQueue: int('--max-queue <n>', 'images waiting at most; beyond that requests get 503 with Retry-After', 1, 1 << 20, false),
  maxBodyMb: num('--max-body-mb <mb>', 'largest request body in MiB (413 beyond)', 0, 1024, true),
  isolation: bool('--no-isolation', 'do not send COOP/COEP (the page then runs WASM on one thread)'),
};

/** `wrn features`. */
export const FEATURES = {
  weights: text('--weights <file>', 'weights (.safetensors or PyTorch .pth, e.g. torchvision wide_resnet50_2)'),
  arch: make('--arch <name>', 'architecture, for weights without metadata', archName, identity, false),
  data: text('--data <name|path>', "a data set (as `wrn train --data`), normalised with the weights' mean/std"),
  split: oneOf('--split <s>', 'with --data: train | val | test', ['train', 'val', 'test']),
  limit: int('--limit <N>', 'with --data: the first N images only', 1, MAX_IMAGES),
  stages: list('--stages <names>', 'comma-separated stage names (layer1,layer2,...), or all', z.string().min(1), identity),
  pool: oneOf('--pool <p>', 'avg: global average pool to [N,C]; none: keep [N,C,h,w]', ['avg', 'none']),
  batch: int('--batch <N>', 'batch size', 1, MAX_BATCH),
  out: make('--out <file.safetensors>', 'output file (written atomically)',
    z.string().regex(/\.safetensors$/, { error: 'expected a .safetensors file name' }), identity),
};

const finite = z.number({ error: 'expected numbers' }).refine(Number.isFinite, { error: 'expected finite numbers' });

/** `wrn convert`. */
export const CONVERT = {
  from: oneOf('--from <layout>', "source names (official = the authors' functional PyTorch code, xternalz = xternalz/WideResNet-pytorch)",
    ['auto', ...LAYOUTS]),
  arch: make('--arch <name>', 'architecture (default: inferred from the shapes, e.g. wrn-28-10)', archName, identity, false),
  mean: list('--mean <m>', 'per-channel normalisation mean recorded in the metadata, e.g. 0.4914,0.4822,0.4465', finite, asNumber),
  std: list('--std <s>', 'per-channel normalisation std, e.g. 0.2470,0.2435,0.2616',
    finite.refine((x) => x > 0, { error: 'expected numbers > 0' }), asNumber),
  labels: list('--labels <list>', 'class names, comma-separated (default 0..K-1)', z.string(), identity),
  dataset: text('--dataset <name>', 'dataset name recorded in the metadata'),
  dtype: oneOf('--dtype <t>', 'stored float type', ['f32', 'f16', 'bf16']),
};

/** `wrn plan`: the budget and the search space. */
export const PLAN = {
  params: amount('--params <N>', 'parameter budget: params <= N (3000000, 3e6 or 3M)'),
  macs: amount('--macs <N>', 'compute budget: MACs per image <= N'),
  imgPerS: amount('--img-per-s <N>', 'throughput budget: measured training images/s >= N (implies --measure, on the cheapest candidates only)'),
  blocks: list('--blocks <list>', `WRN block types, comma-separated: ${Object.keys(BLOCK_TYPES).join(', ')}`,
    z.enum(Object.keys(BLOCK_TYPES), { error: `expected some of ${Object.keys(BLOCK_TYPES).join(', ')}` }),
    (s) => s.toLowerCase(), false),
  maxWidth: int('--max-width <K>', 'largest widening factor k', 1, 64, false),
  maxN: int('--max-n <N>', 'largest N in depth 6N+4', 1, 200, false),
  measure: bool('--measure', 'measure training and inference img/s with short synthetic runs'),
  maxMeasure: int('--max-measure <N>', 'most configurations measured', 0, 1000, false),
  batch: int('--batch <N>', 'batch size of the measurements', 1, 4096, false),
  measureSeconds: num('--measure-seconds <s>', 'time per measured phase (training, inference) and configuration', 0, 3600, true),
  out: text('--out <path>', 'plot path prefix or folder (default ./plan -> plan.svg, plan.png)', false),
  plot: bool('--no-plot', 'do not draw the plot'),
};

/** `wrn data`. */
export const DATASET = {
  valSize: num('--val-size <N>', 'hold N training images out as a validation split (or a fraction < 1)', 0, MAX_IMAGES),
  valSeed: int('--val-seed <S>', 'seed of the validation hold-out', 0, 2 ** 32 - 1, false),
  label: oneOf('--label <set>', 'CIFAR-100 label set: fine or coarse', ['fine', 'coarse'], false),
  size: int('--size <S>', 'image folders: output side length (shorter side resized, center crop)', 1, MAX_IMAGE_SIZE, false),
  grayscale: bool('--grayscale', 'image folders: decode as 1-channel grayscale (default RGB)'),
  download: bool('--no-download', 'never download a named dataset'),
  dataDir: text('--data-dir <dir>', 'local datasets root (default $WRN_DATA)', false),
  cacheDir: text('--cache-dir <dir>', 'download cache (default ~/.cache/wide-resnet)', false),
};
