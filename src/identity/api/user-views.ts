import type { FastifyRequest } from 'fastify'
import type { SelectQueryBuilder } from 'kysely'
import { parseTime } from '../../core/clock.ts'
import { CloudError, badRequest } from '../../core/errors.ts'
import type { GroupRow, IdentitySchema, UserRow } from '../schema.ts'
import { publicOptions } from '../users-store.ts'
import { parseJson, selfLink, toBool } from './common.ts'

/**
 * Keystone's datetime format in user bodies (oslo's PERFECT_TIME_FORMAT, no zone):
 * 2016-11-06T15:32:17.000000
 */
export function keystoneTime(iso: string | null): string | null {
  if (!iso) return null
  const ms = Date.parse(iso)
  if (Number.isNaN(ms)) return null
  return new Date(ms).toISOString().slice(0, 23) + '000'
}

/**
 * A user as Keystone shows it: its extra attributes (description, email…) and the
 * columns; default_project_id only when set; never a password or hash.
 */
export function userView(req: FastifyRequest, u: UserRow) {
  const extra = parseJson(u.extra)
  return {
    ...extra,
    id: u.id, name: u.name, domain_id: u.domain_id, enabled: toBool(u.enabled),
    ...(u.default_project_id ? { default_project_id: u.default_project_id } : {}),
    password_expires_at: keystoneTime(u.password_expires_at),
    options: publicOptions(u),
    links: selfLink(req, `/users/${u.id}`),
  }
}

/** A group as Keystone shows it; a null description is kept in extra. */
export function groupView(req: FastifyRequest, g: GroupRow) {
  const extra = parseJson(g.extra)
  return {
    ...extra,
    id: g.id, name: g.name, domain_id: g.domain_id,
    description: 'description' in extra ? extra.description : g.description,
    links: selfLink(req, `/groups/${g.id}`),
  }
}

// ------------------------------------------------------------------ list filters

// The strings Keystone's query schema accepts as booleans (keystone/api/validation/parameter_types.py).
const TRUE = new Set(['True', 'TRUE', 'true', '', '1', 'y', 'Y', 'on', 'ON', 'yes'])
const FALSE = new Set(['False', 'FALSE', 'false', '0', 'n', 'N', 'off', 'OFF', 'no'])

/** `?enabled=` as Keystone reads it; anything else is a 400. */
export function enabledFilter(v: unknown): boolean | undefined {
  if (v === undefined) return undefined
  const s = String(v)
  if (TRUE.has(s)) return true
  if (FALSE.has(s)) return false
  throw badRequest(`Invalid input for field/attribute enabled. Value: ${s}. '${s}' is not a valid boolean.`)
}

const OPS = { lt: '<', lte: '<=', gt: '>', gte: '>=', eq: '=', neq: '<>' } as const

/**
 * `?password_expires_at={op}:{timestamp}` (op defaults to eq), as Keystone's
 * _translate_expired_password_hints parses it. Users without an expiry never match.
 */
export function expiresFilter(v: unknown): { op: (typeof OPS)[keyof typeof OPS]; iso: string } | undefined {
  if (v === undefined) return undefined
  const s = String(v)
  let op = 'eq'
  let ts = s
  if (s.slice(2, 4).includes(':')) {
    const i = s.indexOf(':')
    op = s.slice(0, i)
    ts = s.slice(i + 1)
  }
  const ms = parseTime(ts)
  if (Number.isNaN(ms)) {
    throw badRequest('Timestamp not in expected format. The server could not comply with the request since it ' +
      'is either malformed or otherwise incorrect. The client is assumed to be in error.')
  }
  const sqlOp = (OPS as Record<string, (typeof OPS)[keyof typeof OPS]>)[op]
  if (!sqlOp) {
    throw badRequest(`The given operator ${op} is not valid. It must be one of the following: ` +
      `'eq', 'neq', 'lt', 'lte', 'gt', or 'gte'.`)
  }
  return { op: sqlOp, iso: new Date(ms).toISOString() }
}

/** Applies the user filters shared by `GET /v3/users` and `GET /v3/groups/{id}/users`. */
export function filterUsers<O>(q: SelectQueryBuilder<IdentitySchema, 'users', O>, query: Record<string, unknown>) {
  if (query.idp_id !== undefined || query.protocol_id !== undefined || query.unique_id !== undefined) {
    throw new CloudError('NotImplemented',
      'Filtering users by idp_id, protocol_id or unique_id needs federation, which this cloud does not support.')
  }
  if (typeof query.name === 'string') q = q.where('users.name', '=', query.name)
  if (typeof query.domain_id === 'string') q = q.where('users.domain_id', '=', query.domain_id)
  const enabled = enabledFilter(query.enabled)
  if (enabled !== undefined) q = q.where('users.enabled', '=', enabled ? 1 : 0)
  const exp = expiresFilter(query.password_expires_at)
  if (exp) q = q.where('users.password_expires_at', 'is not', null).where('users.password_expires_at', exp.op, exp.iso)
  return q
}

const INEXACT = ['contains', 'startswith', 'endswith', 'equals'] as const

/**
 * Keystone's inexact filters (`?name__icontains=web`, `name__startswith=…`) on the given
 * attributes; a leading `i` makes them case-insensitive. Applied after the query.
 */
export function inexactFilter<T extends Record<string, unknown>>(rows: T[], query: Record<string, unknown>, attrs: string[]): T[] {
  const tests: ((r: T) => boolean)[] = []
  for (const [key, raw] of Object.entries(query)) {
    const m = /^(.+?)__(i?)(\w+)$/.exec(key)
    if (!m || !attrs.includes(m[1]!) || !(INEXACT as readonly string[]).includes(m[3]!)) continue
    const attr = m[1]!
    const fold = m[2] === 'i'
    const want = fold ? String(raw).toLowerCase() : String(raw)
    tests.push((r) => {
      const v = r[attr]
      if (typeof v !== 'string') return false
      const have = fold ? v.toLowerCase() : v
      switch (m[3]) {
        case 'contains': return have.includes(want)
        case 'startswith': return have.startsWith(want)
        case 'endswith': return have.endsWith(want)
        default: return have === want
      }
    })
  }
  return tests.length === 0 ? rows : rows.filter((r) => tests.every((t) => t(r)))
}
