/**
 * The machinery behind ./flags.ts: what a Flag is, builders whose zod schemas state their expectation in
 * the message, declaring flags with commander, and reading them (command line over --config over
 * defaults) into typed values or one UserError line.
 */
import { readFileSync, statSync } from 'node:fs';
import { z } from 'zod';
import type { Command } from 'commander';
import { UserError } from './userError.js';

/** One command-line option. `O` says whether reading it can give undefined (no default, not required). */
export interface Flag<T, O extends boolean = boolean> {
  readonly spec: string;
  readonly help: string;
  readonly schema: z.ZodType<T>;
  /** A command-line string -> the value the schema checks (numbers stay NaN or strings when malformed). */
  readonly fromArg: (s: string) => unknown;
  readonly default: T | undefined;
  readonly required: boolean;
  /** Whether a `--config` file may set it (recipe and data yes; how output is printed no). */
  readonly config: boolean;
  readonly optional: O;
}

type AnyFlag = Flag<unknown>;
export type Flags = Record<string, AnyFlag>;
type ValueOf<F> = F extends Flag<infer T, infer O> ? (O extends true ? T | undefined : T) : never;
export type Values<G> = { [K in keyof G]: ValueOf<G[K]> };

// ---------------------------------------------------------------------------------------------------
// Builders: each gives a schema whose message states the expectation ("expected an integer in [1, 10]").

/** Decimal numbers only (no hex, no 'Infinity'); anything else stays a string the schema refuses. */
export const asNumber = (s: string): unknown => (/^\s*[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?\s*$/i.test(s) ? Number(s) : s);
export const identity = (s: string): unknown => s;

export function make<T>(spec: string, help: string, schema: z.ZodType<T>, fromArg: (s: string) => unknown, config = true): Flag<T, true> {
  return { spec, help, schema, fromArg, default: undefined, required: false, config, optional: true };
}

export function intIn(min: number, max: number, why = ''): z.ZodType<number> {
  const error = `expected an integer in [${min}, ${max}]${why}`;
  return z.number({ error }).int({ error }).min(min, { error }).max(max, { error });
}

export function numberIn(min: number, max: number, exclusiveMin = false): z.ZodType<number> {
  const error = `expected a number in ${exclusiveMin ? '(' : '['}${min}, ${max}]`;
  const n = z.number({ error });
  return (exclusiveMin ? n.gt(min, { error }) : n.min(min, { error })).max(max, { error });
}

export const int = (spec: string, help: string, min: number, max: number, config = true) => make(spec, help, intIn(min, max), asNumber, config);
export const num = (spec: string, help: string, min: number, max: number, exclusiveMin = false) =>
  make(spec, help, numberIn(min, max, exclusiveMin), asNumber);
export const oneOf = <const V extends readonly string[]>(spec: string, help: string, values: V, config = true) =>
  make(spec, help, z.enum(values, { error: `expected one of ${values.join(', ')}` }), identity, config);
export const text = (spec: string, help: string, config = true) =>
  make(spec, help, z.string({ error: 'expected a string' }).min(1, { error: 'expected a non-empty string' }), identity, config);
export const bool = (spec: string, help: string, config = false): Flag<boolean, true> =>
  make(spec, help, z.boolean({ error: 'expected true or false' }), identity, config);
export const list = <T>(spec: string, help: string, item: z.ZodType<T>, fromItem: (s: string) => unknown, config = true) =>
  make(spec, help, z.array(item, { error: 'expected a list' }).min(1, { error: 'expected a non-empty list' }),
    (s) => s.split(',').map((x) => x.trim()).filter(Boolean).map(fromItem), config);

/** The same flag with a default (help shows it; reading never gives undefined). */
export function withDefault<T>(f: Flag<T>, value: T): Flag<T, false> {
  return { ...f, default: value, optional: false };
}

/** The same flag, refused when absent. */
export function required<T>(f: Flag<T>): Flag<T, false> {
  return { ...f, required: true, optional: false };
}


const SUFFIX: Record<string, number> = { '': 1, k: 1e3, m: 1e6, g: 1e9, t: 1e12 };

/** "3000000", "3e6", "3M", "2.7m", "1,000,000", "500k" -> a number; anything else NaN. */
export function parseAmount(v: string): number {
  const m = /^\s*([0-9][0-9,_]*(?:\.[0-9]+)?(?:e[+-]?[0-9]+)?)\s*([kmgt]?)\s*$/i.exec(v);
  return m ? Number(m[1]!.replace(/[,_]/g, '')) * SUFFIX[m[2]!.toLowerCase()]! : NaN;
}
export const amount = (spec: string, help: string) =>
  make(spec, help, z.number({ error: 'expected a positive number such as 3000000, 3e6 or 3M' })
    .gt(0, { error: 'expected a positive number such as 3000000, 3e6 or 3M' })
    .max(1e15, { error: 'expected a number up to 1e15' }), parseAmount, false);

// ---------------------------------------------------------------------------------------------------
// Declaring and reading.

/** Declares FLAGS on a commander command (checking that commander's key for each is the record's key). */
export function addFlags(cmd: Command, flags: Flags): Command {
  for (const [key, f] of Object.entries(flags)) {
    // A help text that already states its default (in words of its own) is not given a second one.
    const states = /\(default /.test(f.help);
    const shown = f.default !== undefined && typeof f.default !== 'boolean' && !states ? ` (default ${String(f.default)})` : '';
    cmd.option(f.spec, f.help + shown);
    const name = cmd.options.at(-1)!.attributeName();
    if (name !== key) throw new Error(`flags: ${f.spec} is stored by commander as '${name}', declared as '${key}'`);
  }
  return cmd;
}

/** The flag's name as users type it: `--batch`, `--no-flip`. */
export function flagName(f: AnyFlag): string {
  return f.spec.split(' ')[0]!;
}

function show(v: unknown): string {
  const s = typeof v === 'string' ? `'${v}'` : JSON.stringify(v) ?? String(v);
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

/** Validates one value against its flag's schema; `where` names it in the message (`--batch`, `--config f: key 'lr'`). */
export function checkValue<T>(f: Flag<T>, value: unknown, where: string, shown: unknown = value): T {
  const r = f.schema.safeParse(value);
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  // In a list, the item at fault is what the user needs to see.
  const item = issue.path.length && Array.isArray(value) ? value[Number(issue.path[0])] : shown;
  const got = show(item);
  // Messages from the registry already quote the name.
  throw new UserError(`${where}: ${issue.message}${issue.message.includes(`'${String(item)}'`) ? '' : `, got ${got}`}`);
}

/** The flags given on the command line (not commander's defaults), converted to values and validated. */
function givenFlags<G extends Flags>(flags: G, cmd: Command): Partial<Record<keyof G, unknown>> {
  const out: Partial<Record<keyof G, unknown>> = {};
  for (const [key, f] of Object.entries(flags) as [keyof G & string, AnyFlag][]) {
    if (cmd.getOptionValueSource(key) !== 'cli') continue;
    const raw: unknown = cmd.getOptionValue(key);
    out[key] = checkValue(f, typeof raw === 'string' ? f.fromArg(raw) : raw, flagName(f), raw);
  }
  return out;
}

/** The names of the flags given on the command line. */
export function givenNames(flags: Flags, cmd: Command): string[] {
  return Object.entries(flags).filter(([k]) => cmd.getOptionValueSource(k) === 'cli').map(([, f]) => flagName(f));
}

/** Caps what a `--config` file may be (a recipe is a few hundred bytes). */
const MAX_CONFIG_BYTES = 1 << 20;

/** Reads and validates a `--config` JSON object against the flags that `config` allows: unknown keys are refused. */
export function readConfig<G extends Flags>(file: string, flags: G): Partial<Record<keyof G, unknown>> {
  const where = `--config ${file}`;
  let text: string;
  try {
    if (statSync(file).size > MAX_CONFIG_BYTES) throw new UserError(`${where}: larger than ${MAX_CONFIG_BYTES} bytes; expected a small JSON object`);
    text = readFileSync(file, 'utf8');
  } catch (e) {
    if (e instanceof UserError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    throw new UserError(`${where}: ${code === 'ENOENT' ? 'no such file' : `cannot read it (${code ?? (e as Error).message})`}`);
  }
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new UserError(`${where}: not valid JSON (${(e as Error).message})`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new UserError(`${where}: expected a JSON object, got ${show(v)}`);
  const allowed = Object.entries(flags).filter(([, f]) => f.config);
  const shape = Object.fromEntries(allowed.map(([k, f]) => [k, f.schema.optional()]));
  const r = z.strictObject(shape).safeParse(v);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    if (issue.code === 'unrecognized_keys') {
      throw new UserError(`${where}: unknown key '${issue.keys[0]}'; expected some of ${allowed.map(([k]) => k).join(', ')}`);
    }
    const key = String(issue.path[0]);
    // Re-check the key alone for its own message and the value it got.
    checkValue(flags[key]!, (v as Record<string, unknown>)[key], `${where}: key '${key}'`);
  }
  return r.data as Partial<Record<keyof G, unknown>>;
}

/**
 * Typed, validated values of FLAGS for one invocation: the command line over the `--config` file (when
 * FLAGS has `config` and it is given) over each flag's default.
 */
export function readFlags<G extends Flags>(flags: G, cmd: Command): Values<G> {
  const given: Record<string, unknown> = givenFlags(flags, cmd);
  const file: Record<string, unknown> = 'config' in flags && typeof given.config === 'string' ? readConfig(given.config, flags) : {};
  const out: Record<string, unknown> = {};
  for (const [key, f] of Object.entries(flags)) {
    const v = given[key] ?? file[key] ?? f.default;
    if (v === undefined && f.required) throw new UserError(`${flagName(f)} is required: ${f.help}`);
    out[key] = v;
  }
  return out as Values<G>;
}
