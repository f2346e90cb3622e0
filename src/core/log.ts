import pino from 'pino'

export type Logger = pino.Logger

/** Keys whose values never reach a log line. */
const REDACT = [
  'password', 'secret', 'token', 'authorization', 'x-auth-token', 'x-subject-token',
  'original_password', 'access', 'blob',
]

/** Structured JSON logs on stderr (or silent); secrets are redacted wherever they appear. */
export function createLogger(opts: { level?: string; name?: string } = {}): Logger {
  const paths = REDACT.flatMap((k) => [k, `*.${k}`, `*.*.${k}`, `req.headers["${k}"]`])
  return pino({
    name: opts.name ?? 'cumulo',
    level: opts.level ?? process.env.CUMULO_LOG_LEVEL ?? 'info',
    redact: { paths, censor: '***' },
    base: undefined,
    timestamp: pino.stdTimeFunctions.isoTime,
  }, pino.destination(2))
}
