/** An error that becomes an HTTP response: status code and one-line message (sent as `{ "error": message }`). */
export class HttpError extends Error {
  constructor(readonly statusCode: number, message: string, readonly headers: Record<string, string> = {}) {
    super(message);
  }
}
