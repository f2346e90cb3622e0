import type { FastifyRequest } from 'fastify'
import type { Api } from '../../core/http/app.ts'
import type { ImageCtx } from '../context.ts'
import { MEMBER_SCHEMA, TASKS_SCHEMA, TASK_SCHEMA, collection } from '../image-schema.ts'
import { metadefSchemas } from '../metadefs/schemas.ts'
import { baseUrl, rejectOthers } from './common.ts'
import { CloudError } from '../../core/errors.ts'

// Version discovery (glance/api/versions.py), /v2/schemas/* (schemas.py) and /v2/info/*
// (discovery.py). python-openstackclient refuses to use an image endpoint without `GET /`.

/**
 * The versions a single-store Glance without an image cache lists. 2.12–2.14 and 2.16 need
 * multiple stores or the cache API, which this service does not offer, so they are absent, as
 * in Glance with that configuration.
 */
const VERSIONS: Array<[string, string]> = [
  ['2.15', 'CURRENT'], ['2.9', 'SUPPORTED'], ['2.7', 'SUPPORTED'], ['2.6', 'SUPPORTED'], ['2.5', 'SUPPORTED'],
  ['2.4', 'SUPPORTED'], ['2.3', 'SUPPORTED'], ['2.2', 'SUPPORTED'], ['2.1', 'SUPPORTED'], ['2.0', 'SUPPORTED'],
]

function versions(req: FastifyRequest) {
  const href = `${baseUrl(req)}/v2/`
  return { versions: VERSIONS.map(([id, status]) => ({ id: `v${id}`, status, links: [{ rel: 'self', href }] })) }
}

/** GET / (300 Multiple Choices) and GET /versions (200), both public. */
export function versionRoutes(api: Api): void {
  api.get('/', { config: { public: true } }, async (req, reply) => {
    reply.code(300)
    return versions(req)
  })
  api.get('/versions', { config: { public: true } }, async (req) => versions(req))
}

/** GET /v2/schemas/{image,images,member,members,task,tasks,metadefs/*}. */
export function schemaRoutes(api: Api, c: ImageCtx): void {
  const docs: Record<string, unknown> = {
    image: c.schemas.image, images: c.schemas.images, member: MEMBER_SCHEMA,
    members: collection('members', MEMBER_SCHEMA, false), task: TASK_SCHEMA, tasks: TASKS_SCHEMA,
    ...Object.fromEntries(Object.entries(metadefSchemas()).map(([k, v]) => [`metadefs/${k}`, v])),
  }
  for (const [name, doc] of Object.entries(docs)) {
    api.get(`/v2/schemas/${name}`, { config: { policy: 'default' } }, async () => doc)
    rejectOthers(api, `/v2/schemas/${name}`, ['GET'])
  }
}

/** GET /v2/info/import, /v2/info/stores (404: one store), /v2/info/usage. */
export function infoRoutes(api: Api, c: ImageCtx): void {
  api.get('/v2/info/import', { config: { policy: 'default' } }, async () => ({
    'import-methods': { description: 'Import methods available.', type: 'array', value: c.config.importMethods },
  }))
  rejectOthers(api, '/v2/info/import', ['GET'])
  for (const url of ['/v2/info/stores', '/v2/info/stores/detail']) {
    api.get(url, { config: { policy: 'default' } }, async () => {
      throw new CloudError('NotFound', 'Multi backend is not supported at this site.')
    })
    rejectOthers(api, url, ['GET'])
  }
  // Without Keystone unified limits Glance reports no usage (glance/quota/keystone.get_usage).
  api.get('/v2/info/usage', { config: { policy: 'default' } }, async () => ({ usage: {} }))
}
