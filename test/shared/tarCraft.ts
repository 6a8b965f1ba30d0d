/**
 * Writes tar archives field by field (ustar headers, GNU long-name 'L' and pax 'x' records), for tests
 * and the fuzzer: every header field can be set to a value no honest tar would write.
 */
export const BLOCK = 512;

export interface TarHeaderFields {
  name: string;
  size?: number; // the header's size field (default: the data length)
  type?: string; // typeflag character (default '0', a regular file)
  mode?: string;
  magic?: string; // default 'ustar\0'
  prefix?: string;
  /** Override the checksum field (default: the correct one). */
  checksum?: number;
}

export interface TarEntry extends TarHeaderFields {
  data: Uint8Array;
}

export function tarHeader(f: TarHeaderFields, dataLength: number): Buffer {
  const h = Buffer.alloc(BLOCK);
  h.write(f.name, 0, 100, 'utf8');
  h.write(f.mode ?? '0000644\0', 100, 8, 'ascii');
  h.write('0000000\0', 108, 8, 'ascii');
  h.write('0000000\0', 116, 8, 'ascii');
  h.write((f.size ?? dataLength).toString(8).padStart(11, '0').slice(-11) + '\0', 124, 12, 'ascii');
  h.write('00000000000\0', 136, 12, 'ascii');
  h.write('        ', 148, 8, 'ascii');
  h.write(f.type ?? '0', 156, 1, 'latin1');
  h.write(f.magic ?? 'ustar\0', 257, 6, 'latin1');
  h.write('00', 263, 2, 'ascii');
  if (f.prefix) h.write(f.prefix, 345, 155, 'utf8');
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += h[i];
  h.write((f.checksum ?? sum).toString(8).padStart(6, '0').slice(-6) + '\0 ', 148, 8, 'ascii');
  return h;
}

function padded(data: Uint8Array): Buffer[] {
  const pad = (BLOCK - (data.length % BLOCK)) % BLOCK;
  return pad ? [Buffer.from(data), Buffer.alloc(pad)] : [Buffer.from(data)];
}

/** A pax extended-header record body: "LEN key=value\n" lines. */
export function paxRecords(kv: Record<string, string>): Buffer {
  let out = '';
  for (const [k, v] of Object.entries(kv)) {
    const body = ` ${k}=${v}\n`;
    let len = body.length + 1;
    while (String(len).length + body.length !== len) len = String(len).length + body.length;
    out += `${len}${body}`;
  }
  return Buffer.from(out, 'utf8');
}

/** Serialises entries (each with its header fields) and the two zero blocks that end an archive. */
export function writeTarEntries(entries: TarEntry[], end = true): Buffer {
  const blocks: Buffer[] = [];
  for (const e of entries) blocks.push(tarHeader(e, e.data.length), ...padded(e.data));
  if (end) blocks.push(Buffer.alloc(BLOCK * 2));
  return Buffer.concat(blocks);
}

/** A plain ustar archive of regular files (names up to 100 bytes). */
export function writeTar(entries: { name: string; data: Uint8Array }[]): Buffer {
  for (const e of entries) if (Buffer.byteLength(e.name) > 100) throw new Error(`tar entry name too long: ${e.name}`);
  return writeTarEntries(entries.map((e) => ({ name: e.name, data: e.data })));
}
