/** An error caused by the user's input (bad flag, missing file): printed as one line, no stack trace. */
export class UserError extends Error {
  override readonly name = 'UserError';
}
