import type { FastifyRequest } from 'fastify'
import type { Api } from '../../core/http/app.ts'
import { baseUrl } from './common.ts'

const MEDIA = [{ base: 'application/json', type: 'application/vnd.openstack.identity-v3+json' }]

function v3(req: FastifyRequest) {
  return {
    id: 'v3.14',
    status: 'stable',
    updated: '2020-04-07T00:00:00Z',
    links: [{ rel: 'self', href: `${baseUrl(req)}/v3/` }],
    'media-types': MEDIA,
  }
}

/** Version discovery: `GET /` (300 Multiple Choices, as Keystone) and `GET /v3`. */
export function versionRoutes(api: Api): void {
  api.get('/', { config: { public: true } }, async (req, reply) => {
    reply.code(300).header('location', `${baseUrl(req)}/v3/`)
    return { versions: { values: [v3(req)] } }
  })
  api.get('/v3', { config: { public: true } }, async (req) => ({ version: v3(req) }))
}
