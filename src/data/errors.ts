/**
 * Error for bad data input (a missing file, a wrong magic number, a truncated file, ...).
 * Its message is one line naming the file and what was expected; the CLI prints it without a stack trace.
 */
export class DataError extends Error {
  /** The file or folder the error is about, when there is one. */
  readonly file: string | undefined;

  constructor(message: string, file?: string) {
    super(message);
    this.name = 'DataError';
    this.file = file;
  }
}

/** Wraps an unexpected error (I/O, zlib, decoder) into a one-line DataError naming `file`. */
export function asDataError(err: unknown, file: string, what: string): DataError {
  if (err instanceof DataError) return err;
  const e = err as NodeJS.ErrnoException;
  if (e && e.code === 'ENOENT') return new DataError(`${file}: no such file or directory (expected ${what})`, file);
  if (e && e.code === 'EACCES') return new DataError(`${file}: permission denied (expected ${what})`, file);
  if (e && e.code === 'EISDIR') return new DataError(`${file}: is a directory (expected ${what})`, file);
  const msg = e && typeof e.message === 'string' ? e.message.split('\n')[0] : String(err);
  return new DataError(`${file}: cannot read ${what}: ${msg}`, file);
}
