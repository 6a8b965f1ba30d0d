/**
 * Decoding image files and buffers in Node (sharp): EXIF orientation applied, converted to 8-bit sRGB
 * with alpha. Everything after decoding is ./image.ts, shared with the web page.
 */
import sharp from 'sharp';
import { MAX_PIXELS, type Pixels } from './image.js';

export class DecodeError extends Error {}

/** RGBA pixels of a PNG/JPEG/WebP/GIF/TIFF/AVIF file or buffer; `what` names it in errors. */
export async function decodePixels(input: string | Buffer, what: string): Promise<Pixels> {
  try {
    const { data, info } = await sharp(input, { failOn: 'error', limitInputPixels: MAX_PIXELS })
      .rotate()
      .toColourspace('srgb')
      .ensureAlpha()
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 4) throw new Error(`decoded to ${info.channels} channels`);
    return { data: new Uint8Array(data.buffer, data.byteOffset, data.length), width: info.width, height: info.height, channels: 4 };
  } catch (err) {
    const msg = ((err as Error).message ?? String(err)).split('\n')[0];
    throw new DecodeError(`${what}: unreadable image (${msg}); expected a PNG, JPEG or WebP ${typeof input === 'string' ? 'file' : 'image'}`);
  }
}
