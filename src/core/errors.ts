import { STATUS_CODES } from 'node:http'

/** The kinds of failure a service can report; each maps to one HTTP status. */
export type Kind =
  | 'BadRequest' | 'Unauthorized' | 'Forbidden' | 'NotFound' | 'MethodNotAllowed'
  | 'NotAcceptable' | 'Conflict' | 'Gone' | 'PreconditionFailed' | 'PayloadTooLarge'
  | 'UnsupportedMediaType' | 'RangeNotSatisfiable' | 'Unprocessable' | 'TooManyRequests'
  | 'Internal' | 'NotImplemented' | 'Unavailable'

export const STATUS: Record<Kind, number> = {
  BadRequest: 400, Unauthorized: 401, Forbidden: 403, NotFound: 404, MethodNotAllowed: 405,
  NotAcceptable: 406, Conflict: 409, Gone: 410, PreconditionFailed: 412, PayloadTooLarge: 413,
  UnsupportedMediaType: 415, RangeNotSatisfiable: 416, Unprocessable: 422, TooManyRequests: 429,
  Internal: 500, NotImplemented: 501, Unavailable: 503,
}

/** The one error type services throw. `message` is safe to show users; `cause` is only logged. */
export class CloudError extends Error {
  override readonly name = 'CloudError'
  readonly status: number
  constructor(readonly kind: Kind, message: string, readonly code: string = kind,
              options?: ErrorOptions & { headers?: Record<string, string> }) {
    super(message, options)
    this.status = STATUS[kind]
    this.headers = options?.headers
  }
  readonly headers?: Record<string, string>
}

export const badRequest = (msg: string, code?: string) => new CloudError('BadRequest', msg, code)
export const notFound = (msg: string, code?: string) => new CloudError('NotFound', msg, code)
export const conflict = (msg: string, code?: string) => new CloudError('Conflict', msg, code)
export const forbidden = (msg: string, code?: string) => new CloudError('Forbidden', msg, code)
export const unauthorized = (msg = 'The request you have made requires authentication.') =>
  new CloudError('Unauthorized', msg)

export function statusTitle(status: number): string {
  return STATUS_CODES[status] ?? 'Error'
}

/** Turns anything thrown into a CloudError; unknown errors become a 500 whose cause is logged. */
export function asCloudError(err: unknown): CloudError {
  if (err instanceof CloudError) return err
  const e = err as { statusCode?: number; code?: string; message?: string; validation?: unknown }
  if (e && typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    const kind = (Object.keys(STATUS) as Kind[]).find((k) => STATUS[k] === e.statusCode) ?? 'BadRequest'
    return new CloudError(kind, cleanFastifyMessage(e), e.code ?? kind, { cause: err })
  }
  return new CloudError('Internal', 'An unexpected error prevented the server from fulfilling your request.',
    'Internal', { cause: err })
}

function cleanFastifyMessage(e: { code?: string; message?: string }): string {
  switch (e.code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return 'Malformed request body: the body is not valid JSON.'
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return 'Request Entity Too Large: the request body exceeds the maximum size.'
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return 'Unsupported media type.'
    default:
      return e.message ?? 'Bad request'
  }
}
