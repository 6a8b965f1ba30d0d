/** An error caused by the user's input (bad flag, missing file): printed as one line, no stack trace. */
export class UserError extends Error {
  override readonly name = 'UserError';
}

/** Parses a positive integer flag or throws a UserError naming the flag. */
export function intFlag(flag: string, value: string | undefined, min = 1): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new UserError(`${flag}: expected an integer >= ${min}, got '${value}'`);
  return n;
}

/** Parses a number flag or throws a UserError naming the flag. */
export function numberFlag(flag: string, value: string | undefined, min = -Infinity, max = Infinity): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n) || n < min || n > max) throw new UserError(`${flag}: expected a number in [${min}, ${max}], got '${value}'`);
  return n;
}
