/**
 * The web page in a real browser: Debian's Chromium driven by playwright-core (no browser download).
 * Loads the page from `wrn serve` (cross-origin isolated: WASM threads; and with --no-isolation: one
 * thread) and from a static server holding `wrn export --web` output (a greyscale model), uploads
 * images through the file input, reads the top-5 from the DOM in both modes and compares them with
 * `wrn predict --json`; compares the page's input tensor with Node's (within 1/255); saves a screenshot.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import sharp from 'sharp';
import { decodePixels } from '../../src/preprocess/decode.js';
import { preprocess } from '../../src/preprocess/image.js';
import type { ModelMeta } from '../../src/inference/modelMeta.js';
import { BIN, CIFAR10, FASHION, predict, serve, writeTinyModel, type PredictRow, type Served } from './helpers.js';

const CHROMIUM = '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'];
/**
 * Where the page's screenshot goes: a temporary file by default, so a test run never rewrites a tracked
 * file; `WRN_SCREENSHOT=docs/serve/page.png npm test` refreshes the README's picture.
 */
const SCREENSHOT = process.env.WRN_SCREENSHOT
  ? path.resolve(process.cwd(), process.env.WRN_SCREENSHOT)
  : path.join(os.tmpdir(), `wrn-page-${process.pid}.png`);
const skip = existsSync(CHROMIUM) ? false : `chromium is not installed at ${CHROMIUM} (scripts/setup.sh installs it with apt)`;

const tmp = mkdtempSync(path.join(os.tmpdir(), 'wrn-browser-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));
const RGB = path.join(tmp, 'cifar-like.safetensors');
const GREY = path.join(tmp, 'fashion-like.safetensors');
const JPEG = path.join(tmp, 'photo-exif6.jpg');
const RGBA = path.join(tmp, 'overlay-rgba.png');

/** 640x480 JPEG stored sideways with EXIF orientation 6: colour ramps plus blocks, so rotation shows. */
async function writeImages(): Promise<void> {
  const w = 640;
  const h = 480;
  const raw = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = 3 * (y * w + x);
      const block = x < 200 && y < 150 ? 1 : 0;
      raw[i] = Math.round((255 * x) / w);
      raw[i + 1] = block ? 240 : Math.round((255 * y) / h);
      raw[i + 2] = Math.round(128 + 100 * Math.sin(x / 37) * Math.cos(y / 23));
    }
  }
  await sharp(raw, { raw: { width: w, height: h, channels: 3 } }).jpeg({ quality: 92 }).withMetadata({ orientation: 6 }).toFile(JPEG);
  const pw = 300;
  const ph = 200;
  const rgba = Buffer.alloc(pw * ph * 4);
  for (let y = 0; y < ph; y++) {
    for (let x = 0; x < pw; x++) {
      const i = 4 * (y * pw + x);
      rgba[i] = 220;
      rgba[i + 1] = Math.round((255 * y) / ph);
      rgba[i + 2] = x > 150 ? 200 : 30;
      rgba[i + 3] = Math.round((255 * x) / pw);
    }
  }
  await sharp(rgba, { raw: { width: pw, height: ph, channels: 4 } }).png().toFile(RGBA);
}

/** A static file server that sends COOP/COEP, as the README asks of any server hosting `wrn export --web`. */
function staticServer(dir: string): Promise<{ url: string; server: Server }> {
  const types: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.mjs': 'text/javascript', '.css': 'text/css', '.wasm': 'application/wasm', '.json': 'application/json', '.onnx': 'application/octet-stream' };
  const server = createServer((req, res) => {
    const rel = decodeURIComponent((req.url ?? '/').split('?')[0]).replace(/^\/+/, '') || 'index.html';
    const file = path.join(dir, rel);
    if (!file.startsWith(dir) || !existsSync(file)) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, {
      'Content-Type': types[path.extname(file)] ?? 'application/octet-stream',
      'Cross-Origin-Opener-Policy': 'same-origin',
      'Cross-Origin-Embedder-Policy': 'require-corp',
    }).end(readFileSync(file));
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => {
    const a = server.address();
    resolve({ url: `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}`, server });
  }));
}

interface PageResult { top: { label: string; probability: number }[]; status: string }

async function open(ctx: BrowserContext, url: string): Promise<Page> {
  const page = await ctx.newPage();
  await page.setViewportSize({ width: 900, height: 560 });
  await page.goto(`${url}/`);
  await page.waitForFunction("['ready', 'error'].includes(document.getElementById('status').dataset.state)", undefined, { timeout: 90_000 });
  const status = await page.evaluate("document.getElementById('status').textContent") as string;
  assert.match(status, /^ready/, `the page did not start: ${status}`);
  return page;
}

async function classifyOnPage(page: Page, file: string, mode: 'browser' | 'server'): Promise<PageResult> {
  await page.check(`input[name=mode][value=${mode}]`);
  await page.evaluate("document.getElementById('status').dataset.state = 'reset'");
  await page.setInputFiles('#file', []);
  await page.setInputFiles('#file', file);
  await page.waitForFunction("['done', 'error'].includes(document.getElementById('status').dataset.state)", undefined, { timeout: 90_000 });
  const status = await page.evaluate("document.getElementById('status').textContent") as string;
  assert.match(status, /: done$/, `${path.basename(file)} in ${mode} mode: ${status}`);
  const top = await page.evaluate("Array.from(document.querySelectorAll('#results li'), (li) => ({ label: li.dataset.label, probability: Number(li.dataset.probability) }))") as PageResult['top'];
  return { top, status };
}

function sameTop(got: PageResult['top'], want: PredictRow, what: string): void {
  assert.deepEqual(got.map((p) => p.label), want.top.map((p) => p.label), `${what}: labels`);
  for (let i = 0; i < got.length; i++) {
    assert.ok(Math.abs(got[i].probability - want.top[i].probability) < 1e-3, `${what}: ${got[i].label} ${got[i].probability} vs predict ${want.top[i].probability}`);
  }
}

/** The page's last input tensor against Node's preprocessing of the same file, in pixel units (x std). */
async function inputDiff(page: Page, file: string, meta: ModelMeta): Promise<number> {
  const got = await page.evaluate('Array.from(window.wrnPage.lastInput)') as number[];
  const want = preprocess(await decodePixels(file, file), { size: meta.inputSize, channels: meta.inChannels as 1 | 3, mean: meta.mean, std: meta.std });
  assert.equal(got.length, want.length);
  const plane = meta.inputSize * meta.inputSize;
  let d = 0;
  for (let i = 0; i < want.length; i++) d = Math.max(d, Math.abs(got[i] - want[i]) * meta.std[Math.floor(i / plane)]);
  return d;
}

describe('web page in Chromium', { skip }, () => {
  let rgbMeta: ModelMeta;
  let greyMeta: ModelMeta;
  let isolated: Served;
  let plain: Served;
  let site: { url: string; server: Server };
  let ctx: BrowserContext;
  let expected: Map<string, PredictRow>;
  let expectedGrey: Map<string, PredictRow>;

  before(async () => {
    rgbMeta = writeTinyModel(RGB, { channels: 3, size: 32, labels: CIFAR10, mean: [0.49, 0.48, 0.45], std: [0.25, 0.24, 0.26], seed: 7 });
    greyMeta = writeTinyModel(GREY, { channels: 1, size: 28, labels: FASHION, mean: [0.286], std: [0.353], seed: 5 });
    await writeImages();
    const web = path.join(tmp, 'site');
    const e = spawnSync(process.execPath, [BIN, 'export', '--weights', GREY, '--web', web], { encoding: 'utf8' });
    assert.equal(e.status, 0, e.stderr);
    [isolated, plain, site] = await Promise.all([
      serve(['--weights', RGB, '--max-batch', '4']),
      serve(['--weights', RGB, '--max-batch', '4', '--no-isolation']),
      staticServer(web),
    ]);
    expected = new Map(predict(RGB, [JPEG, RGBA]).map((r) => [r.input, r]));
    expectedGrey = new Map(predict(GREY, [JPEG, RGBA]).map((r) => [r.input, r]));
    // Comparing the order of labels is only meaningful without ties closer than float noise (~1e-6
    // between onnxruntime-web and our kernels); the models' seeds are chosen so there are none.
    for (const r of [...expected.values(), ...expectedGrey.values()]) {
      for (let i = 0; i + 1 < 5; i++) assert.ok(r.top[i].probability - r.top[i + 1].probability > 1e-5, `near-tie in ${r.input}: ${JSON.stringify(r.top)}`);
    }
    ctx = await chromium.launchPersistentContext(mkdtempSync(path.join(tmp, 'profile-')), { executablePath: CHROMIUM, headless: true, args: ARGS });
  });
  after(async () => {
    await ctx?.close();
    await isolated?.stop();
    await plain?.stop();
    site?.server.close();
  });

  test('served by wrn serve, cross-origin isolated: both modes give wrn predict\'s top-5; input tensors within 1/255', async (t) => {
    const page = await open(ctx, isolated.url);
    const state = await page.evaluate('({ isolated: crossOriginIsolated, threads: window.wrnPage.threads, cores: navigator.hardwareConcurrency })') as { isolated: boolean; threads: number; cores: number };
    assert.equal(state.isolated, true);
    assert.equal(state.threads, Math.min(4, state.cores));
    assert.ok(state.threads >= 2 || state.cores < 2, `WASM threads ${state.threads} on ${state.cores} cores`);
    for (const file of [JPEG, RGBA]) {
      const inBrowser = await classifyOnPage(page, file, 'browser');
      sameTop(inBrowser.top, expected.get(file)!, `${path.basename(file)} in the browser`);
      const d = await inputDiff(page, file, rgbMeta);
      t.diagnostic(`${path.basename(file)}: max |page - node| input ${(d * 255).toFixed(3)}/255`);
      assert.ok(d <= 1 / 255, `${path.basename(file)}: page and Node input tensors differ by ${(d * 255).toFixed(3)}/255`);
      if (file === JPEG) {
        mkdirSync(path.dirname(SCREENSHOT), { recursive: true });
        await page.screenshot({ path: SCREENSHOT });
      }
      const onServer = await classifyOnPage(page, file, 'server');
      sameTop(onServer.top, expected.get(file)!, `${path.basename(file)} on the server`);
    }
    await page.close();
  });

  test('served with --no-isolation: one WASM thread, same answers', async () => {
    const page = await open(ctx, plain.url);
    const state = await page.evaluate('({ isolated: crossOriginIsolated, threads: window.wrnPage.threads })') as { isolated: boolean; threads: number };
    assert.deepEqual(state, { isolated: false, threads: 1 });
    sameTop((await classifyOnPage(page, RGBA, 'browser')).top, expected.get(RGBA)!, 'RGBA PNG, one thread');
    await page.close();
  });

  test('wrn export --web on a static server: a greyscale model, in the browser only', async (t) => {
    const page = await open(ctx, site.url);
    assert.equal(await page.isDisabled('input[name=mode][value=server]'), true);
    for (const file of [JPEG, RGBA]) {
      sameTop((await classifyOnPage(page, file, 'browser')).top, expectedGrey.get(file)!, `${path.basename(file)}, greyscale model`);
      const d = await inputDiff(page, file, greyMeta);
      t.diagnostic(`${path.basename(file)}, greyscale: max |page - node| input ${(d * 255).toFixed(3)}/255`);
      assert.ok(d <= 1 / 255, `${path.basename(file)}: greyscale input tensors differ by ${(d * 255).toFixed(3)}/255`);
    }
    await page.close();
  });
});
