// CORS for the Swift API, as Swift's proxy does it (proxy/controllers/base.py: Controller.OPTIONS
// and the cors_validation decorator): a preflight OPTIONS is answered from the container's
// X-Container-Meta-Access-Control-Allow-Origin / -Max-Age and the operator's cors_allow_origin
// (401 when the origin or method is not allowed); an actual request carrying Origin gets
// Access-Control-Allow-Origin and Access-Control-Expose-Headers. In strict mode (Swift's default)
// only allowed origins get them. OPTIONS needs no token (keystoneauth lets it through).
import type { ProxyContext } from './context.ts'
import { SwiftError } from './errors.ts'
import type { ContainerCors } from './info-cache.ts'
import type { Middleware, SwiftHandler } from './pipeline.ts'
import type { ClientAnswer, SwiftRequest } from './request.ts'

/** The proxy's CORS settings (proxy-server.conf). */
export interface CorsSettings {
  /** Origins allowed for every container (cors_allow_origin). Default none. */
  allowOrigin: readonly string[]
  /** Headers exposed besides Swift's defaults (cors_expose_headers), lower-case. Default none. */
  exposeHeaders: readonly string[]
  /** Only allowed origins get CORS headers on actual requests (strict_cors_mode). Default true. */
  strict: boolean
}

/** Swift's defaults. */
export const DEFAULT_CORS: CorsSettings = { allowOrigin: [], exposeHeaders: [], strict: true }

/** Headers every CORS answer exposes (simple response headers plus Swift's own). */
const BASE_EXPOSE = ['cache-control', 'content-language', 'content-type', 'expires', 'last-modified', 'pragma',
  'etag', 'x-timestamp', 'x-trans-id', 'x-openstack-request-id']

/** Methods each controller answers (Swift's allowed_methods; PUT/DELETE of accounts are off). */
const ACCOUNT_METHODS = ['GET', 'HEAD', 'POST', 'OPTIONS']
const CONTAINER_METHODS = ['GET', 'HEAD', 'PUT', 'POST', 'DELETE', 'OPTIONS']
const OBJECT_METHODS = ['GET', 'HEAD', 'PUT', 'POST', 'DELETE', 'OPTIONS']

/** Swift's is_origin_allowed: the container's space-separated origins plus the operator's; "*" allows all. */
export function isOriginAllowed(settings: CorsSettings, cors: ContainerCors, origin: string): boolean {
  const allowed = new Set(settings.allowOrigin)
  for (const a of (cors.allowOrigin ?? '').split(' ')) if (a.trim()) allowed.add(a.trim())
  return allowed.has(origin) || allowed.has('*')
}

function splitCsv(v: string | undefined): string[] {
  return (v ?? '').split(',').map((x) => x.trim()).filter(Boolean)
}

/**
 * The answer to OPTIONS (Swift's Controller.OPTIONS): 200 with Allow; for a preflight (with
 * Origin) on a container or object, the CORS headers, or 401 when the origin or the requested
 * method is not allowed. Objects list COPY too, as Swift's copy middleware adds it.
 */
export async function optionsAnswer(ctx: ProxyContext, req: SwiftRequest): Promise<ClientAnswer> {
  const methods = req.obj !== undefined ? OBJECT_METHODS : req.container !== undefined ? CONTAINER_METHODS : ACCOUNT_METHODS
  const withCopy = req.obj !== undefined ? [...methods, 'COPY'] : methods
  const headers: Record<string, string> = { allow: withCopy.join(', ') }
  const origin = req.headers.origin
  // Account-level preflights get no CORS headers (Swift: "a future change could allow" them).
  if (!origin || req.container === undefined) return { status: 200, headers }
  const cors = (await ctx.infos.container(req.account, req.container)).cors
  const method = req.headers['access-control-request-method']
  if (!isOriginAllowed(ctx.cors, cors, origin) || method === undefined || !methods.includes(method)) {
    throw SwiftError.status(401, { allow: methods.join(', ') })
  }
  if (cors.allowOrigin?.trim() === '*') headers['access-control-allow-origin'] = '*'
  else { headers['access-control-allow-origin'] = origin; headers.vary = 'Origin' }
  if (cors.maxAge !== undefined) headers['access-control-max-age'] = cors.maxAge
  headers['access-control-allow-methods'] = withCopy.join(', ')
  const requested = [...new Set(splitCsv(req.headers['access-control-request-headers']))]
  if (requested.length) {
    headers['access-control-allow-headers'] = requested.join(', ')
    headers.vary = headers.vary ? `${headers.vary}, Access-Control-Request-Headers` : 'Access-Control-Request-Headers'
  }
  return { status: 200, headers }
}

/**
 * Swift's cors_validation on an answer (or error) to an actual request: exposes the default
 * headers, the operator's, the user metadata the answer carries and the container's list, and
 * names the allowed origin. In strict mode a disallowed origin gets nothing.
 */
export function addCorsHeaders(settings: CorsSettings, cors: ContainerCors, origin: string, headers: Record<string, string>): void {
  if (settings.strict && !isOriginAllowed(settings, cors, origin)) return
  if (headers['access-control-expose-headers'] === undefined) {
    const expose = new Set([...BASE_EXPOSE, ...settings.exposeHeaders])
    for (const h in headers) if (h.startsWith('x-container-meta') || h.startsWith('x-object-meta')) expose.add(h)
    for (const h of (cors.exposeHeaders ?? '').split(' ')) if (h.trim()) expose.add(h.trim().toLowerCase())
    headers['access-control-expose-headers'] = [...expose].join(', ')
  }
  if (headers['access-control-allow-origin'] === undefined) {
    if (cors.allowOrigin?.trim() === '*') headers['access-control-allow-origin'] = '*'
    else {
      headers['access-control-allow-origin'] = origin
      headers.vary = headers.vary ? `${headers.vary}, Origin` : 'Origin'
    }
  }
}

/** Requests Swift's cors_validation decorates: container and object GET/HEAD/PUT/POST/DELETE (COPY becomes a PUT). */
const DECORATED = new Set(['GET', 'HEAD', 'PUT', 'POST', 'DELETE', 'COPY'])

/** The CORS middleware: answers OPTIONS, decorates actual cross-origin requests. First in the pipeline. */
export function corsMiddleware(): Middleware {
  return {
    name: 'cors',
    wrap(next: SwiftHandler, ctx: ProxyContext): SwiftHandler {
      return async (req) => {
        if (req.method === 'OPTIONS') return optionsAnswer(ctx, req)
        const origin = req.headers.origin
        if (!origin || req.container === undefined || !DECORATED.has(req.method)) return next(req)
        // Swift reads the container's info first; a cached lookup the controllers reuse.
        const cors = (await ctx.infos.container(req.account, req.container)).cors
        let answer: ClientAnswer
        try {
          answer = await next(req)
        } catch (err) {
          if (err instanceof SwiftError) addCorsHeaders(ctx.cors, cors, origin, err.headers)
          throw err
        }
        addCorsHeaders(ctx.cors, cors, origin, answer.headers)
        return answer
      }
    },
  }
}
