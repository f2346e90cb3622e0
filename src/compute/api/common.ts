import type { FastifyRequest } from 'fastify'
import { Ajv, type ValidateFunction } from 'ajv'
import { CloudError, badRequest } from '../../core/errors.ts'
import { atLeast } from '../microversion.ts'

/** Nova's CONF.api.max_limit: the most items one list returns. */
export const MAX_LIMIT = 1000

/** The scheme and host the client called (links in bodies point back there). */
export function baseUrl(req: FastifyRequest): string {
  const proto = (req.headers['x-forwarded-proto'] as string | undefined)?.split(',')[0] ?? req.protocol
  const host = (req.headers['x-forwarded-host'] as string | undefined) ?? req.headers.host ?? 'localhost'
  return `${proto}://${host}`
}

/** Self and bookmark links of a resource, as Nova's views build them. */
export function links(req: FastifyRequest, collection: string, id: string) {
  const base = baseUrl(req)
  return [
    { rel: 'self', href: `${base}/v2.1/${collection}/${encodeURIComponent(id)}` },
    { rel: 'bookmark', href: `${base}/${collection}/${encodeURIComponent(id)}` },
  ]
}

/** The raw query string parameters; a repeated one counts with its last value, as in webob. */
export function queryOf(req: FastifyRequest): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries((req.query ?? {}) as Record<string, unknown>)) {
    out[k] = String(Array.isArray(v) ? v[v.length - 1] : v)
  }
  return out
}

/**
 * Rejects unknown query parameters from microversion `strictFrom` on (Nova's query schemas
 * with additionalProperties false, e.g. flavors at 2.75); before it they are ignored.
 */
export function checkQueryKeys(req: FastifyRequest, q: Record<string, string>, allowed: string[], strictFrom?: string): void {
  if (!strictFrom || !atLeast(req, strictFrom)) return
  const extra = Object.keys(q).filter((k) => !allowed.includes(k))
  if (extra.length) {
    throw badRequest(`Invalid input for query parameters ${extra[0]}. Value: ${q[extra[0]!]}. Additional properties are not allowed ('${extra[0]}' was unexpected)`)
  }
}

/** `limit` and `marker` of a paged list (nova/api/openstack/common.py get_limit_and_marker). */
export function limitAndMarker(q: Record<string, string>): { limit: number; limitGiven: boolean; marker?: string } {
  let limit = MAX_LIMIT
  const limitGiven = q.limit !== undefined
  if (limitGiven) {
    if (!/^-?\d+$/.test(q.limit!)) throw badRequest('limit param must be an integer')
    const n = Number(q.limit)
    if (n < 0) throw badRequest('limit param must be positive')
    limit = Math.min(n, MAX_LIMIT)
  }
  return { limit, limitGiven, marker: q.marker }
}

/** The `<collection>_links` next link when a page is full, or nothing. */
export function nextLinks(req: FastifyRequest, path: string, q: Record<string, string>, page: { limit: number },
  count: number, lastMarker: string | undefined): Array<{ rel: string; href: string }> | undefined {
  if (count === 0 || count !== page.limit || lastMarker === undefined) return undefined
  const params = new URLSearchParams({ ...q, limit: String(page.limit), marker: lastMarker })
  return [{ rel: 'next', href: `${baseUrl(req)}/v2.1/${path}?${params.toString()}` }]
}

/** oslo's bool_from_string(strict=True), which Nova uses on query parameters. */
export function strictBool(s: string): boolean | undefined {
  const v = s.trim().toLowerCase()
  if (['1', 't', 'true', 'on', 'y', 'yes'].includes(v)) return true
  if (['0', 'f', 'false', 'off', 'n', 'no'].includes(v)) return false
  return undefined
}

/** Nova's parameter_types.boolean in request bodies: JSON booleans or their usual spellings. */
export const BOOLEAN_SCHEMA = {
  type: ['boolean', 'string'],
  enum: [true, 'True', 'TRUE', 'true', '1', 'ON', 'On', 'on', 'YES', 'Yes', 'yes',
    false, 'False', 'FALSE', 'false', '0', 'OFF', 'Off', 'off', 'NO', 'No', 'no'],
}

/** Reads a value the BOOLEAN_SCHEMA accepted. */
export function toBool(v: boolean | string): boolean {
  return typeof v === 'boolean' ? v : strictBool(v) === true
}

/** A policy check made in the handler (Nova's message), for rules whose target the handler knows. */
export function deny(rule: string): CloudError {
  return new CloudError('Forbidden', `Policy doesn't allow ${rule} to be performed.`)
}

// Bodies whose schema depends on the microversion are validated in the handler, with the
// same settings and messages as the API's route schemas (no coercion, unknown keys rejected).
const ajv = new Ajv({ allErrors: false, coerceTypes: false, removeAdditional: false, useDefaults: false, strict: false })
const compiled = new WeakMap<object, ValidateFunction>()

/** Validates `req.body` against `schema`; a failure is Nova's 400. */
export function validateBody(req: FastifyRequest, schema: object): void {
  let v = compiled.get(schema)
  if (!v) { v = ajv.compile(schema); compiled.set(schema, v) }
  if (v(req.body)) return
  const e = v.errors?.[0]
  const where = e?.instancePath ? `body${e.instancePath.replace(/\//g, '.')}` : 'body'
  let msg = `${where} ${e?.message ?? 'is invalid'}`
  if (e?.keyword === 'additionalProperties') {
    msg = `Additional properties are not allowed ('${(e.params as any).additionalProperty}' was unexpected) in ${where}`
  }
  throw badRequest(`Invalid input for field/attribute: ${msg}`)
}
