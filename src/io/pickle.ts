/**
 * A safe, restricted unpickler: it understands the data opcodes of pickle protocols 0-5 that a PyTorch
 * state dict or checkpoint uses, and never imports or runs anything. A GLOBAL / STACK_GLOBAL is accepted
 * only when the caller lists it (module.name); everything else is refused at the opcode that names it,
 * before any object is built. What an allowed global does when called (REDUCE / NEWOBJ) or given a
 * state (BUILD) is the caller's TypeScript function. Opcodes that build arbitrary objects without
 * naming a global the caller allowed (INST, OBJ, EXT*) are refused as well.
 *
 * Values: None -> null, bool, int -> number (bigint beyond 2^53), float -> number, str -> string,
 * bytes -> Uint8Array, list -> array, tuple -> PickleTuple, dict -> PickleDict (insertion-ordered Map),
 * set / frozenset -> Set, allowed globals -> PickleGlobal, and whatever the caller's functions return
 * (PickleOpaque subclasses).
 */

export class PickleError extends Error {
  constructor(message: string) {
    // Strings quoted from the pickle may hold control characters; the message stays one line.
    super(message.replace(/[\x00-\x1f\x7f]/g, ' '));
    this.name = 'PickleError';
  }
}

/** Base of caller-made values (tensors, storages...). */
export abstract class PickleOpaque {
  abstract readonly kind: string;
}

export class PickleTuple {
  constructor(readonly items: PickleValue[]) {}
}

export class PickleGlobal {
  constructor(readonly module: string, readonly name: string) {}
  get qualified(): string {
    return `${this.module}.${this.name}`;
  }
}

export class PickleDict {
  readonly map = new Map<PickleValue, PickleValue>();
  /** What BUILD gave this dict (an OrderedDict's attributes, e.g. a state dict's `_metadata`). */
  state: PickleValue = null;
  constructor(readonly ordered = false) {}
  /** The value of a string key, or undefined. */
  get(key: string): PickleValue | undefined {
    return this.map.get(key);
  }
}

export type PickleValue =
  | null | boolean | number | bigint | string | Uint8Array
  | PickleValue[] | PickleTuple | PickleDict | Set<PickleValue> | PickleGlobal | PickleOpaque;

export interface GlobalHandler {
  /** callable(*args) for REDUCE; absent: calling this global is refused. */
  call?(args: PickleValue[], fail: (msg: string) => never): PickleValue;
  /** cls.__new__(cls, *args) for NEWOBJ; absent: refused. */
  newobj?(args: PickleValue[], fail: (msg: string) => never): PickleValue;
}

export interface UnpickleOptions {
  /** Labels errors, e.g. "model.pth: data.pkl". */
  readonly label: string;
  /** Allowed globals, by "module.name". */
  readonly globals: ReadonlyMap<string, GlobalHandler>;
  /** Resolves BINPERSID / PERSID ids; absent: persistent ids are refused. */
  readonly persistentLoad?: (pid: PickleValue, fail: (msg: string) => never) => PickleValue;
  /** BUILD on a caller-made object (absent: refused). BUILD on a dict stores the state in `dict.state`. */
  readonly build?: (obj: PickleValue, state: PickleValue, fail: (msg: string) => never) => void;
  /** Why a global is refused, appended to the message in parentheses. */
  readonly refusalHint?: string;
  /** Bound on the memo size (default 1e7 entries). */
  readonly maxMemo?: number;
  /** Bound on the stack and on any one list, dict or set (default 1e7 items). */
  readonly maxItems?: number;
}

/**
 * Longest LONG1/LONG4 integer accepted, in bytes. A state dict's integers (epochs, steps, the legacy
 * format's 10-byte magic number) fit easily; a multi-megabyte one is an attack on the integer decoder.
 */
export const MAX_LONG_BYTES = 64;
/** Longest protocol-0 INT/LONG literal accepted, in digits (for the same reason). */
const MAX_INT_DIGITS = 160;

export function describeValue(v: PickleValue): string {
  if (v === null) return 'None';
  if (typeof v === 'string') return `str ${JSON.stringify(v.length > 40 ? v.slice(0, 40) + '...' : v)}`;
  if (typeof v !== 'object') return `${typeof v} ${String(v)}`;
  if (v instanceof Uint8Array) return `bytes[${v.length}]`;
  if (Array.isArray(v)) return `list[${v.length}]`;
  if (v instanceof PickleTuple) return `tuple[${v.items.length}]`;
  if (v instanceof PickleDict) return `dict[${v.map.size}]`;
  if (v instanceof Set) return `set[${v.size}]`;
  if (v instanceof PickleGlobal) return `global ${v.qualified}`;
  return v.kind;
}

/** Unpickles one pickle from `data`, starting at byte 0; stops at STOP (trailing bytes are ignored). */
export function unpickle(data: Uint8Array, opts: UnpickleOptions): PickleValue {
  return unpickleAt(data, 0, opts).value;
}

/**
 * Unpickles the pickle that starts at byte `start` (files such as PyTorch's legacy format hold several
 * pickles back to back); `end` is the offset just past its STOP opcode.
 */
export function unpickleAt(data: Uint8Array, start: number, opts: UnpickleOptions): { value: PickleValue; end: number } {
  const label = opts.label;
  const maxMemo = opts.maxMemo ?? 1e7;
  const maxItems = opts.maxItems ?? 1e7;
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const n = data.length;
  let pos = start;
  let opPos = 0;
  let opName = '';
  const stack: PickleValue[] = [];
  const marks: number[] = [];
  const memo = new Map<number, PickleValue>();
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  const latin1 = new TextDecoder('latin1');

  const fail = (msg: string): never => {
    throw new PickleError(`${label}: ${msg}`);
  };
  const failAt = (msg: string): never => fail(`${msg} (opcode ${opName} at byte ${opPos})`);
  const need = (k: number): void => {
    if (k < 0 || pos + k > n) failAt(`truncated: ${k} bytes needed, ${n - pos} left`);
  };
  const u8 = (): number => {
    need(1);
    return data[pos++];
  };
  const u16 = (): number => {
    need(2);
    const v = dv.getUint16(pos, true);
    pos += 2;
    return v;
  };
  const u32 = (): number => {
    need(4);
    const v = dv.getUint32(pos, true);
    pos += 4;
    return v;
  };
  const i32 = (): number => {
    need(4);
    const v = dv.getInt32(pos, true);
    pos += 4;
    return v;
  };
  const u64 = (): number => {
    need(8);
    const v = dv.getBigUint64(pos, true);
    pos += 8;
    if (v > BigInt(n)) failAt(`length ${v} runs past the end of the pickle`);
    return Number(v);
  };
  const bytes = (k: number): Uint8Array => {
    need(k);
    const b = data.subarray(pos, pos + k);
    pos += k;
    return b;
  };
  const line = (): string => {
    const end = data.indexOf(0x0a, pos);
    if (end < 0) failAt('truncated: newline expected');
    const s = latin1.decode(data.subarray(pos, end));
    pos = end + 1;
    return s;
  };
  const str = (b: Uint8Array): string => {
    try {
      return utf8.decode(b);
    } catch {
      return failAt('string is not valid UTF-8');
    }
  };
  const push = (v: PickleValue): void => {
    if (stack.length >= maxItems) failAt(`stack exceeds ${maxItems} items`);
    stack.push(v);
  };
  const pop = (): PickleValue => {
    const base = marks.length > 0 ? marks[marks.length - 1] : 0;
    if (stack.length <= base) failAt('stack underflow');
    return stack.pop() as PickleValue;
  };
  const top = (): PickleValue => {
    const base = marks.length > 0 ? marks[marks.length - 1] : 0;
    if (stack.length <= base) failAt('stack underflow');
    return stack[stack.length - 1];
  };
  const popMark = (): PickleValue[] => {
    const m = marks.pop();
    if (m === undefined) return failAt('no MARK on the stack');
    return stack.splice(m);
  };
  const put = (idx: number): void => {
    if (memo.size >= maxMemo && !memo.has(idx)) failAt(`memo exceeds ${maxMemo} entries`);
    memo.set(idx, top());
  };
  const get = (idx: number): PickleValue => {
    const v = memo.get(idx);
    if (v === undefined) failAt(`memo key ${idx} is not defined`);
    return v as PickleValue;
  };
  const longFromBytes = (b: Uint8Array): number | bigint => {
    if (b.length === 0) return 0;
    if (b.length > MAX_LONG_BYTES) failAt(`${b.length}-byte integer, over the ${MAX_LONG_BYTES}-byte limit (a state dict never needs one)`);
    // Little-endian two's complement; one hex parse is linear in the length (shifting a growing bigint is not).
    let hex = '';
    for (let i = b.length - 1; i >= 0; i--) hex += b[i].toString(16).padStart(2, '0');
    let v = BigInt(`0x${hex}`);
    if (b[b.length - 1] & 0x80) v -= 1n << BigInt(8 * b.length);
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  };
  const intFromText = (s: string, what: string): number | bigint => {
    if (s.length > MAX_INT_DIGITS) failAt(`${what} literal of ${s.length} characters, over the ${MAX_INT_DIGITS}-character limit`);
    if (!/^[+-]?\d+$/.test(s)) failAt(`bad ${what} ${JSON.stringify(s)}`);
    const v = BigInt(s);
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  };
  const room = (size: number, adding: number, what: string): void => {
    if (size + adding > maxItems) failAt(`${what} exceeds ${maxItems} items`);
  };
  const resolveGlobal = (module: string, name: string): PickleGlobal => {
    const q = `${module}.${name}`;
    if (!opts.globals.has(q)) fail(`refusing to unpickle global '${q}' (${opts.refusalHint ?? 'not on the allow-list'})`);
    return new PickleGlobal(module, name);
  };
  const handler = (g: PickleValue, what: string): [PickleGlobal, GlobalHandler] => {
    if (!(g instanceof PickleGlobal)) return failAt(`${what} on ${describeValue(g)}, expected an allowed global`);
    return [g, opts.globals.get(g.qualified) as GlobalHandler];
  };
  const setItems = (d: PickleValue, items: PickleValue[]): void => {
    if (!(d instanceof PickleDict)) return failAt(`SETITEMS on ${describeValue(d)}, expected a dict`);
    if (items.length % 2 !== 0) failAt('SETITEMS with an odd number of items');
    room((d as PickleDict).map.size, items.length / 2, 'dict');
    for (let i = 0; i < items.length; i += 2) d.map.set(items[i], items[i + 1]);
  };
  const appendItems = (l: PickleValue, items: PickleValue[]): void => {
    // Item by item: spreading a huge APPENDS into push() overflows the call stack.
    if (Array.isArray(l)) {
      room(l.length, items.length, 'list');
      for (const it of items) l.push(it);
    } else if (l instanceof Set) {
      room(l.size, items.length, 'set');
      for (const it of items) l.add(it);
    }
    else failAt(`APPEND on ${describeValue(l)}, expected a list`);
  };

  for (;;) {
    if (pos >= n) return fail(`truncated: no STOP opcode (${n} bytes read)`);
    opPos = pos;
    const op = data[pos++];
    opName = OPNAMES[op] ?? `0x${op.toString(16).padStart(2, '0')}`;
    switch (op) {
      case 0x80: { // PROTO
        const p = u8();
        if (p > 5) failAt(`unsupported pickle protocol ${p}`);
        break;
      }
      case 0x95: // FRAME: the frame length only helps buffered readers
        need(8);
        pos += 8;
        break;
      case 0x2e: { // STOP
        const v = pop();
        if (stack.length !== 0 || marks.length !== 0) fail(`STOP with ${stack.length} items left on the stack`);
        return { value: v, end: pos };
      }
      case 0x28: // MARK
        if (marks.length >= maxItems) failAt(`more than ${maxItems} open MARKs`);
        marks.push(stack.length);
        break;
      case 0x30: pop(); break; // POP
      case 0x31: popMark(); break; // POP_MARK
      case 0x32: push(top()); break; // DUP
      case 0x4e: push(null); break; // NONE
      case 0x88: push(true); break; // NEWTRUE
      case 0x89: push(false); break; // NEWFALSE
      case 0x4a: push(i32()); break; // BININT
      case 0x4b: push(u8()); break; // BININT1
      case 0x4d: push(u16()); break; // BININT2
      case 0x8a: push(longFromBytes(bytes(u8()))); break; // LONG1
      case 0x8b: { // LONG4
        const k = i32();
        if (k < 0) failAt('negative length');
        push(longFromBytes(bytes(k)));
        break;
      }
      case 0x49: { // INT (text)
        const s = line();
        if (s === '00') push(false);
        else if (s === '01') push(true);
        else push(intFromText(s, 'INT'));
        break;
      }
      case 0x4c: { // LONG (text)
        push(intFromText(line().replace(/L$/, ''), 'LONG'));
        break;
      }
      case 0x47: { // BINFLOAT (big-endian)
        need(8);
        push(dv.getFloat64(pos, false));
        pos += 8;
        break;
      }
      case 0x46: { // FLOAT (text)
        const s = line();
        const v = Number(s);
        if (Number.isNaN(v) && !/nan/i.test(s)) failAt(`bad FLOAT ${JSON.stringify(s)}`);
        push(v);
        break;
      }
      case 0x58: push(str(bytes(u32()))); break; // BINUNICODE
      case 0x8c: push(str(bytes(u8()))); break; // SHORT_BINUNICODE
      case 0x8d: push(str(bytes(u64()))); break; // BINUNICODE8
      case 0x54: { // BINSTRING (Python 2 str)
        const k = i32();
        if (k < 0) failAt('negative length');
        push(latin1.decode(bytes(k)));
        break;
      }
      case 0x55: push(latin1.decode(bytes(u8()))); break; // SHORT_BINSTRING
      case 0x53: { // STRING (protocol 0, a quoted Python 2 str literal)
        const s = line();
        const q = s[0];
        if (s.length < 2 || (q !== "'" && q !== '"') || s[s.length - 1] !== q) failAt(`bad STRING ${JSON.stringify(s)}`);
        push(unescapePy(s.slice(1, -1), failAt));
        break;
      }
      case 0x56: push(unescapePy(line(), failAt, true)); break; // UNICODE (raw-unicode-escape)
      case 0x42: push(bytes(u32()).slice()); break; // BINBYTES
      case 0x43: push(bytes(u8()).slice()); break; // SHORT_BINBYTES
      case 0x8e: push(bytes(u64()).slice()); break; // BINBYTES8
      case 0x96: push(bytes(u64()).slice()); break; // BYTEARRAY8
      case 0x29: push(new PickleTuple([])); break; // EMPTY_TUPLE
      case 0x74: push(new PickleTuple(popMark())); break; // TUPLE
      case 0x85: push(new PickleTuple([pop()])); break; // TUPLE1
      case 0x86: { // TUPLE2
        const b = pop();
        const a = pop();
        push(new PickleTuple([a, b]));
        break;
      }
      case 0x87: { // TUPLE3
        const c = pop();
        const b = pop();
        const a = pop();
        push(new PickleTuple([a, b, c]));
        break;
      }
      case 0x5d: push([]); break; // EMPTY_LIST
      case 0x6c: push(popMark()); break; // LIST
      case 0x61: { // APPEND
        const v = pop();
        appendItems(top(), [v]);
        break;
      }
      case 0x65: { // APPENDS
        const items = popMark();
        appendItems(top(), items);
        break;
      }
      case 0x7d: push(new PickleDict()); break; // EMPTY_DICT
      case 0x64: { // DICT
        const d = new PickleDict();
        setItems(d, popMark());
        push(d);
        break;
      }
      case 0x73: { // SETITEM
        const v = pop();
        const k = pop();
        setItems(top(), [k, v]);
        break;
      }
      case 0x75: { // SETITEMS
        const items = popMark();
        setItems(top(), items);
        break;
      }
      case 0x8f: push(new Set<PickleValue>()); break; // EMPTY_SET
      case 0x90: { // ADDITEMS
        const items = popMark();
        const s = top();
        if (!(s instanceof Set)) failAt(`ADDITEMS on ${describeValue(s)}, expected a set`);
        room((s as Set<PickleValue>).size, items.length, 'set');
        for (const it of items) (s as Set<PickleValue>).add(it);
        break;
      }
      case 0x91: push(new Set<PickleValue>(popMark())); break; // FROZENSET
      case 0x63: { // GLOBAL
        const module = line();
        const name = line();
        push(resolveGlobal(module, name));
        break;
      }
      case 0x93: { // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') failAt('STACK_GLOBAL needs two strings');
        push(resolveGlobal(module as string, name as string));
        break;
      }
      case 0x52: { // REDUCE
        const args = pop();
        const [g, h] = handler(pop(), 'REDUCE');
        if (!(args instanceof PickleTuple)) failAt(`REDUCE arguments are ${describeValue(args)}, expected a tuple`);
        if (h.call === undefined) fail(`refusing to call global '${g.qualified}'`);
        push((h.call as NonNullable<GlobalHandler['call']>)((args as PickleTuple).items, (m) => fail(`${g.qualified}: ${m}`)));
        break;
      }
      case 0x81: { // NEWOBJ
        const args = pop();
        const [g, h] = handler(pop(), 'NEWOBJ');
        if (!(args instanceof PickleTuple)) failAt(`NEWOBJ arguments are ${describeValue(args)}, expected a tuple`);
        if (h.newobj === undefined) fail(`refusing to instantiate global '${g.qualified}'`);
        push((h.newobj as NonNullable<GlobalHandler['newobj']>)((args as PickleTuple).items, (m) => fail(`${g.qualified}: ${m}`)));
        break;
      }
      case 0x62: { // BUILD
        const state = pop();
        const obj = top();
        if (obj instanceof PickleDict) obj.state = state;
        else if (opts.build !== undefined) opts.build(obj, state, failAt);
        else failAt(`BUILD on ${describeValue(obj)} is not supported`);
        break;
      }
      case 0x51: { // BINPERSID
        const pid = pop();
        if (opts.persistentLoad === undefined) failAt('persistent ids are not allowed here');
        push((opts.persistentLoad as NonNullable<UnpickleOptions['persistentLoad']>)(pid, failAt));
        break;
      }
      case 0x50: { // PERSID
        const pid = line();
        if (opts.persistentLoad === undefined) failAt('persistent ids are not allowed here');
        push((opts.persistentLoad as NonNullable<UnpickleOptions['persistentLoad']>)(pid, failAt));
        break;
      }
      case 0x71: put(u8()); break; // BINPUT
      case 0x72: put(u32()); break; // LONG_BINPUT
      case 0x70: { // PUT
        const s = line();
        if (!/^\d+$/.test(s)) failAt(`bad PUT index ${JSON.stringify(s)}`);
        put(Number(s));
        break;
      }
      case 0x94: put(memo.size); break; // MEMOIZE
      case 0x68: push(get(u8())); break; // BINGET
      case 0x6a: push(get(u32())); break; // LONG_BINGET
      case 0x67: { // GET
        const s = line();
        if (!/^\d+$/.test(s)) failAt(`bad GET index ${JSON.stringify(s)}`);
        push(get(Number(s)));
        break;
      }
      case 0x69: // INST
      case 0x6f: // OBJ
      case 0x82: // EXT1
      case 0x83: // EXT2
      case 0x84: // EXT4
      case 0x92: // NEWOBJ_EX
        return failAt('refusing opcode that builds arbitrary objects');
      default:
        return failAt('unknown or unsupported pickle opcode');
    }
  }
}

/** Decodes Python string-escape (or, with `raw`, raw-unicode-escape: only \\uXXXX / \\UXXXXXXXX) text. */
function unescapePy(s: string, fail: (m: string) => never, raw = false): string {
  if (!s.includes('\\')) return s;
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c !== '\\' || i + 1 >= s.length) {
      out += c;
      continue;
    }
    const d = s[++i];
    const hex = (k: number): void => {
      const h = s.slice(i + 1, i + 1 + k);
      if (!new RegExp(`^[0-9a-fA-F]{${k}}$`).test(h)) fail(`bad escape \\${d}${h}`);
      const cp = parseInt(h, 16);
      if (cp > 0x10ffff) fail(`bad escape \\${d}${h}`);
      out += String.fromCodePoint(cp);
      i += k;
    };
    if (raw) {
      if (d === 'u') hex(4);
      else if (d === 'U') hex(8);
      else out += c + d;
      continue;
    }
    switch (d) {
      case 'n': out += '\n'; break;
      case 't': out += '\t'; break;
      case 'r': out += '\r'; break;
      case 'x': hex(2); break;
      case '\\': case "'": case '"': out += d; break;
      default:
        if (d >= '0' && d <= '7') {
          let j = i;
          while (j < s.length && j < i + 3 && s[j] >= '0' && s[j] <= '7') j++;
          out += String.fromCharCode(parseInt(s.slice(i, j), 8) & 0xff);
          i = j - 1;
        } else out += c + d;
    }
  }
  return out;
}

const OPNAMES: Record<number, string> = {
  0x80: 'PROTO', 0x95: 'FRAME', 0x2e: 'STOP', 0x28: 'MARK', 0x30: 'POP', 0x31: 'POP_MARK', 0x32: 'DUP', 0x4e: 'NONE',
  0x88: 'NEWTRUE', 0x89: 'NEWFALSE', 0x4a: 'BININT', 0x4b: 'BININT1', 0x4d: 'BININT2', 0x8a: 'LONG1', 0x8b: 'LONG4',
  0x49: 'INT', 0x4c: 'LONG', 0x47: 'BINFLOAT', 0x46: 'FLOAT', 0x58: 'BINUNICODE', 0x8c: 'SHORT_BINUNICODE',
  0x8d: 'BINUNICODE8', 0x54: 'BINSTRING', 0x55: 'SHORT_BINSTRING', 0x53: 'STRING', 0x56: 'UNICODE', 0x42: 'BINBYTES', 0x43: 'SHORT_BINBYTES',
  0x8e: 'BINBYTES8', 0x96: 'BYTEARRAY8', 0x29: 'EMPTY_TUPLE', 0x74: 'TUPLE', 0x85: 'TUPLE1', 0x86: 'TUPLE2', 0x87: 'TUPLE3',
  0x5d: 'EMPTY_LIST', 0x6c: 'LIST', 0x61: 'APPEND', 0x65: 'APPENDS', 0x7d: 'EMPTY_DICT', 0x64: 'DICT', 0x73: 'SETITEM',
  0x75: 'SETITEMS', 0x8f: 'EMPTY_SET', 0x90: 'ADDITEMS', 0x91: 'FROZENSET', 0x63: 'GLOBAL', 0x93: 'STACK_GLOBAL',
  0x52: 'REDUCE', 0x81: 'NEWOBJ', 0x62: 'BUILD', 0x51: 'BINPERSID', 0x50: 'PERSID', 0x71: 'BINPUT', 0x72: 'LONG_BINPUT',
  0x70: 'PUT', 0x94: 'MEMOIZE', 0x68: 'BINGET', 0x6a: 'LONG_BINGET', 0x67: 'GET', 0x69: 'INST', 0x6f: 'OBJ',
  0x82: 'EXT1', 0x83: 'EXT2', 0x84: 'EXT4', 0x92: 'NEWOBJ_EX',
};
