import type { FastifyRequest } from 'fastify'
import type { Api } from '../core/http/app.ts'
import { CloudError } from '../core/errors.ts'

// Nova's API microversions (nova/api/openstack/api_version_request.py, wsgi.py). A request
// names its version in `OpenStack-API-Version: compute 2.X` (preferred, 2.27+) or the legacy
// `X-OpenStack-Nova-API-Version: 2.X`; none means 2.1, "latest" the maximum. Every response
// echoes both headers and `Vary`.

/** A microversion as a comparable pair. */
export interface Microversion { major: number; minor: number }

/** The oldest and newest microversions this service implements. */
export const MIN_VERSION = '2.1'
/**
 * 2.86 (extra spec validation) is not implemented, so nothing above 2.85 is advertised: the
 * behaviours of flavors, keypairs, limits and quota sets are right for every version up to it
 * (2.2, 2.10, 2.35, 2.36, 2.55, 2.57, 2.61, 2.75).
 */
export const MAX_VERSION = '2.85'

declare module 'fastify' {
  interface FastifyRequest {
    /** The negotiated compute microversion (2.1 when the request names none). */
    microversion: Microversion
  }
}

export function parseVersion(s: string): Microversion | null {
  const m = /^([1-9]\d*)\.(0|[1-9]\d*)$/.exec(s)
  return m ? { major: Number(m[1]), minor: Number(m[2]) } : null
}

export function compare(a: Microversion, b: Microversion): number {
  return a.major - b.major || a.minor - b.minor
}

const MIN = parseVersion(MIN_VERSION)!
const MAX = parseVersion(MAX_VERSION)!

/** True when the request's microversion is at least `v` ("2.55"). */
export function atLeast(req: FastifyRequest, v: string): boolean {
  return compare(req.microversion, parseVersion(v)!) >= 0
}

/** The version a request asks for, validated against the supported range (Nova's messages). */
export function negotiate(headers: Record<string, string | string[] | undefined>): Microversion {
  let asked: string | undefined
  const modern = headers['openstack-api-version']
  for (const part of (Array.isArray(modern) ? modern.join(',') : modern ?? '').split(',')) {
    const [service, version] = part.trim().split(/\s+/)
    if (service?.toLowerCase() === 'compute' && version) { asked = version; break }
  }
  const legacy = headers['x-openstack-nova-api-version']
  if (asked === undefined && legacy !== undefined) asked = (Array.isArray(legacy) ? legacy[0] : legacy)?.trim()
  if (asked === undefined || asked === '') return MIN
  if (asked.toLowerCase() === 'latest') return MAX
  const v = parseVersion(asked)
  if (!v) {
    throw new CloudError('BadRequest', `API Version String ${asked} is of invalid format. Must be of format MajorNum.MinorNum.`)
  }
  if (compare(v, MIN) < 0 || compare(v, MAX) > 0) {
    throw new CloudError('NotAcceptable',
      `Version ${asked} is not supported by the API. Minimum is ${MIN_VERSION} and maximum is ${MAX_VERSION}.`)
  }
  return v
}

const show = (v: Microversion) => `${v.major}.${v.minor}`

/**
 * Negotiates the microversion of every request except version discovery, and echoes it on
 * every response (errors too), as Nova does.
 */
export function microversionHooks(api: Api): void {
  api.decorateRequest('microversion', null as unknown as Microversion)
  api.addHook('onRequest', async (req, reply) => {
    if (req.routeOptions.config.public) { req.microversion = MIN; return }
    req.microversion = MIN
    const v = negotiate(req.headers)
    req.microversion = v
    reply.header('openstack-api-version', `compute ${show(v)}`)
    reply.header('x-openstack-nova-api-version', show(v))
    reply.header('vary', 'OpenStack-API-Version, X-OpenStack-Nova-API-Version')
  })
}
