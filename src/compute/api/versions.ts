import type { FastifyRequest } from 'fastify'
import type { Api } from '../../core/http/app.ts'
import { MAX_VERSION, MIN_VERSION } from '../microversion.ts'
import { baseUrl } from './common.ts'

// Version discovery (nova/api/openstack/compute/versions.py, versionsV21.py): public, no
// microversion. v2.0 is Nova's legacy v2 compatibility mode at /v2: the v2.1 API at its base
// microversion whatever the request's version headers say (nova/api/openstack/__init__.py
// LegacyV2CompatibleWrapper); here /v2/* is answered by the /v2.1 routes.

const UPDATED = '2013-07-23T11:33:21Z'

function v21(req: FastifyRequest) {
  return {
    id: 'v2.1', status: 'CURRENT', version: MAX_VERSION, min_version: MIN_VERSION, updated: UPDATED,
    links: [{ rel: 'self', href: `${baseUrl(req)}/v2.1/` }],
  }
}

function v20(req: FastifyRequest) {
  return {
    id: 'v2.0', status: 'SUPPORTED', version: '', min_version: '', updated: '2011-01-21T11:33:21Z',
    links: [{ rel: 'self', href: `${baseUrl(req)}/v2/` }],
  }
}

/** Request headers a legacy v2 call drops: it always runs at the base microversion. */
const VERSION_HEADERS = new Set(['openstack-api-version', 'x-openstack-nova-api-version'])

/** GET / (the version list), GET /v2 and /v2.1 (the version documents) and the legacy /v2 API. */
export function versionRoutes(api: Api): void {
  api.get('/', { config: { public: true } }, async (req) => ({ versions: [v20(req), v21(req)] }))
  const v2Document = (req: FastifyRequest) => {
    const v = v20(req)
    return {
      version: {
        ...v,
        links: [...v.links, { rel: 'describedby', type: 'text/html', href: 'http://docs.openstack.org/' }],
        'media-types': [{ base: 'application/json', type: 'application/vnd.openstack.compute+json;version=2' }],
      },
    }
  }
  api.get('/v2', { config: { public: true } }, async (req) => v2Document(req))
  // Everything else under /v2 is the v2.1 route of the same path at microversion 2.1; the inner
  // call authenticates and checks policy as any other.
  api.all('/v2/*', { config: { public: true } }, async (req, reply) => {
    const rest = req.url.slice('/v2'.length)
    if (req.method === 'GET' && /^\/?(\?.*)?$/.test(rest)) return v2Document(req)
    const headers: Record<string, string> = {}
    for (const [k, v] of Object.entries(req.headers)) {
      if (!VERSION_HEADERS.has(k) && k !== 'content-length' && v !== undefined) headers[k] = Array.isArray(v) ? v.join(', ') : String(v)
    }
    const hasBody = req.body !== undefined && req.body !== null
    const r = await api.inject({
      method: req.method as 'GET', url: `/v2.1${rest}`, headers,
      ...(hasBody ? { payload: typeof req.body === 'string' || Buffer.isBuffer(req.body) ? req.body : JSON.stringify(req.body) } : {}),
    })
    for (const [k, v] of Object.entries(r.headers)) {
      if (!VERSION_HEADERS.has(k) && k !== 'vary' && k !== 'content-length' && k !== 'connection' && k !== 'transfer-encoding' && v !== undefined) {
        reply.header(k, v as string)
      }
    }
    return reply.code(r.statusCode).send(r.rawPayload)
  })
  api.get('/v2.1', { config: { public: true } }, async (req) => {
    const v = v21(req)
    return {
      version: {
        ...v,
        links: [...v.links, { rel: 'describedby', type: 'text/html', href: 'http://docs.openstack.org/' }],
        'media-types': [{ base: 'application/json', type: 'application/vnd.openstack.compute+json;version=2.1' }],
      },
    }
  })
}
