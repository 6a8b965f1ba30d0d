/**
 * IDX files (MNIST, Fashion-MNIST): big-endian header `00 00 <type> <ndims>`, ndims uint32 sizes, then the data.
 * Raw or gzipped (detected by the gzip magic, not the file name).
 */
import { DataError } from './errors.js';
import { readMaybeGz } from './files.js';
import { allocShared, validateDataset, type Dataset } from './dataset.js';

export interface IdxArray {
  dims: number[];
  data: Uint8Array;
}

const TYPE_NAMES: Record<number, string> = {
  0x08: 'unsigned byte',
  0x09: 'signed byte',
  0x0b: 'short',
  0x0c: 'int',
  0x0d: 'float',
  0x0e: 'double',
};

/** Parses an IDX buffer of unsigned bytes; `file` is only used in error messages. */
export function parseIdx(buf: Uint8Array, file: string, expectDims?: number): IdxArray {
  if (buf.length < 4) throw new DataError(`${file}: truncated IDX file (${buf.length} bytes; expected at least a 4-byte header)`, file);
  if (buf[0] !== 0 || buf[1] !== 0) {
    const magic = Array.from(buf.subarray(0, 4), (b) => b.toString(16).padStart(2, '0')).join(' ');
    throw new DataError(`${file}: wrong magic number ${magic} (expected an IDX file starting 00 00 08 0${expectDims ?? 'n'})`, file);
  }
  const type = buf[2];
  const ndims = buf[3];
  if (type !== 0x08) {
    throw new DataError(`${file}: IDX data type 0x${type.toString(16)} (${TYPE_NAMES[type] ?? 'unknown'}); expected 0x08 (unsigned byte)`, file);
  }
  if (expectDims !== undefined && ndims !== expectDims) {
    throw new DataError(`${file}: IDX file has ${ndims} dimensions, expected ${expectDims} (${expectDims === 3 ? 'images N x H x W' : 'labels N'})`, file);
  }
  const headerLen = 4 + 4 * ndims;
  if (buf.length < headerLen) throw new DataError(`${file}: truncated IDX header (${buf.length} bytes, expected ${headerLen})`, file);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const dims: number[] = [];
  let count = 1;
  for (let i = 0; i < ndims; i++) {
    const d = view.getUint32(4 + 4 * i, false);
    dims.push(d);
    count *= d;
  }
  const expected = headerLen + count;
  if (buf.length < expected) {
    throw new DataError(`${file}: truncated IDX file (${buf.length} bytes, expected ${expected} for dims [${dims.join(', ')}])`, file);
  }
  if (buf.length > expected) {
    throw new DataError(`${file}: IDX file has ${buf.length - expected} trailing bytes (expected exactly ${expected} for dims [${dims.join(', ')}])`, file);
  }
  return { dims, data: buf.subarray(headerLen, expected) };
}

export async function readIdx(file: string, expectDims?: number, maxBytes?: number): Promise<IdxArray> {
  const buf = await readMaybeGz(file, 'IDX file', maxBytes);
  return parseIdx(buf, file, expectDims);
}

/** Reads an IDX images file [N, H, W] and its labels file [N] into a Dataset [N, 1, H, W]. */
export async function loadIdxPair(
  imagesFile: string,
  labelsFile: string,
  classes: string[],
  name: string,
  split: string,
): Promise<Dataset> {
  const [img, lab] = await Promise.all([readIdx(imagesFile, 3), readIdx(labelsFile, 1)]);
  const [n, h, w] = img.dims;
  if (lab.dims[0] !== n) {
    throw new DataError(`${labelsFile}: ${lab.dims[0]} labels but ${imagesFile} holds ${n} images (expected equal counts)`, labelsFile);
  }
  const images = allocShared('uint8', img.data.length) as Uint8Array;
  images.set(img.data);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) labels[i] = lab.data[i];
  let numClasses = classes.length;
  let names = classes;
  if (numClasses === 0) {
    let max = -1;
    for (let i = 0; i < n; i++) if (labels[i] > max) max = labels[i];
    numClasses = max + 1;
    names = Array.from({ length: numClasses }, (_, i) => String(i));
  }
  const ds: Dataset = {
    images,
    labels,
    shape: [n, 1, h, w],
    classes: names,
    meta: { name, split, sources: [imagesFile, labelsFile] },
  };
  return validateDataset(ds, labelsFile);
}
