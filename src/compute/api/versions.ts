import type { FastifyRequest } from 'fastify'
import type { Api } from '../../core/http/app.ts'
import { MAX_VERSION, MIN_VERSION } from '../microversion.ts'
import { baseUrl } from './common.ts'

// Version discovery (nova/api/openstack/compute/versions.py, versionsV21.py): public, no
// microversion. Only v2.1 is listed: the legacy v2.0 API (Nova's v2 compatibility mode at
// /v2) is not served here.

const UPDATED = '2013-07-23T11:33:21Z'

function v21(req: FastifyRequest) {
  return {
    id: 'v2.1', status: 'CURRENT', version: MAX_VERSION, min_version: MIN_VERSION, updated: UPDATED,
    links: [{ rel: 'self', href: `${baseUrl(req)}/v2.1/` }],
  }
}

/** GET / (the version list) and GET /v2.1 (the version document with media types). */
export function versionRoutes(api: Api): void {
  api.get('/', { config: { public: true } }, async (req) => ({ versions: [v21(req)] }))
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
