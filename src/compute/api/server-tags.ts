import type { FastifyRequest } from 'fastify'
import type { Api } from '../../core/http/app.ts'
import { bodyOf } from '../../core/http/app.ts'
import { CloudError, badRequest } from '../../core/errors.ts'
import type { ComputeCtx } from '../context.ts'
import { atLeast } from '../microversion.ts'
import type { InstanceRow } from '../schema.ts'
import { MAX_TAGS, TAG_SCHEMA } from '../server-create.ts'
import type { ServerService } from '../servers.ts'
import { baseUrl, validateBody } from './common.ts'
import { invalidState } from './server-metadata.ts'
import { computeRequestId } from './servers.ts'

// Server tags, 2.26 (nova/api/openstack/compute/server_tags.py, schemas/server_tags.py):
// list, replace all, delete all, check one (204/404), add one (201 new, 204 present), delete one.
// Changes need the server in a settled vm_state; Nova does not check the lock for tags.

const UPDATE_ALL = {
  type: 'object', required: ['tags'], additionalProperties: false,
  properties: { tags: { type: 'array', items: TAG_SCHEMA, maxItems: MAX_TAGS } },
}
/** vm_states in which tags may change (server_tags.py _check_instance_in_valid_state). */
const VALID = ['active', 'paused', 'suspended', 'stopped']

/** A single tag in the URL, checked as the schema checks tags in bodies (Nova's message). */
function checkTag(tag: string): void {
  const err = tag.length < 1 ? `'${tag}' is too short` : tag.length > 60 ? `'${tag}' is too long`
    : /[,/]/.test(tag) ? `'${tag}' does not match '^[^,/]*$'` : undefined
  if (err) {
    throw badRequest(`Tag '${tag}' is invalid. It must be a non empty string without characters '/' and ','. Validation error message: ${err}`)
  }
}

/** Wires /servers/{id}/tags (404 before 2.26, as Nova's versioned routes). */
export function serverTagRoutes(api: Api, c: ComputeCtx, servers: ServerService, P: string): void {
  const cfg = { config: { selfPolicy: true }, onRequest: computeRequestId }
  async function server(req: FastifyRequest, rule: string, change: string | null): Promise<InstanceRow> {
    if (!atLeast(req, '2.26')) throw new CloudError('NotFound', 'The resource could not be found.')
    const row = await servers.find(req, (req.params as { id: string }).id, rule)
    if (change) invalidState(row, change, VALID, false)
    return row
  }
  const tagsOf = async (uuid: string) =>
    (await c.db.selectFrom('instance_tags').select('tag').where('uuid', '=', uuid).orderBy('tag').execute()).map((t) => t.tag)
  const touch = (tx: any, uuid: string) =>
    tx.updateTable('instances').set({ updated_at: new Date(c.clock.now()).toISOString() }).where('uuid', '=', uuid).execute()

  api.get(`${P}/servers/:id/tags`, cfg, async (req) => {
    const row = await server(req, 'os_compute_api:os-server-tags:index', null)
    return { tags: await tagsOf(row.uuid) }
  })

  api.put(`${P}/servers/:id/tags`, {
    ...cfg,
    preValidation: async (req) => { if (atLeast(req, '2.26')) validateBody(req, UPDATE_ALL) },
  }, async (req) => {
    const row = await server(req, 'os_compute_api:os-server-tags:update_all', 'update tags')
    const tags = [...new Set(bodyOf<{ tags: string[] }>(req).tags)]
    await c.db.transaction().execute(async (tx) => {
      await tx.deleteFrom('instance_tags').where('uuid', '=', row.uuid).execute()
      for (const tag of tags) await tx.insertInto('instance_tags').values({ uuid: row.uuid, tag }).execute()
      await touch(tx, row.uuid)
    })
    return { tags: await tagsOf(row.uuid) }
  })

  api.delete(`${P}/servers/:id/tags`, cfg, async (req, reply) => {
    const row = await server(req, 'os_compute_api:os-server-tags:delete_all', 'delete tags')
    await c.db.transaction().execute(async (tx) => {
      await tx.deleteFrom('instance_tags').where('uuid', '=', row.uuid).execute()
      await touch(tx, row.uuid)
    })
    reply.code(204)
    return reply.send()
  })

  api.get(`${P}/servers/:id/tags/:tag`, cfg, async (req, reply) => {
    const row = await server(req, 'os_compute_api:os-server-tags:show', null)
    const tag = (req.params as { tag: string }).tag
    const t = await c.db.selectFrom('instance_tags').select('tag').where('uuid', '=', row.uuid).where('tag', '=', tag).executeTakeFirst()
    if (!t) throw new CloudError('NotFound', `Server ${row.uuid} has no tag '${tag}'`)
    reply.code(204)
    return reply.send()
  })

  api.put(`${P}/servers/:id/tags/:tag`, cfg, async (req, reply) => {
    const row = await server(req, 'os_compute_api:os-server-tags:update', 'update tag')
    const tag = (req.params as { tag: string }).tag
    checkTag(tag)
    const existing = await tagsOf(row.uuid)
    if (existing.length >= MAX_TAGS) throw badRequest(`The number of tags exceeded the per-server limit ${MAX_TAGS}`)
    if (existing.includes(tag)) { reply.code(204); return reply.send() }
    await c.db.transaction().execute(async (tx) => {
      await tx.insertInto('instance_tags').values({ uuid: row.uuid, tag }).execute()
      await touch(tx, row.uuid)
    })
    reply.code(201)
    reply.header('location', `${baseUrl(req)}/v2.1/servers/${row.uuid}/tags/${encodeURIComponent(tag)}`)
    return reply.send()
  })

  api.delete(`${P}/servers/:id/tags/:tag`, cfg, async (req, reply) => {
    const row = await server(req, 'os_compute_api:os-server-tags:delete', 'delete tag')
    const tag = (req.params as { tag: string }).tag
    const r = await c.db.deleteFrom('instance_tags').where('uuid', '=', row.uuid).where('tag', '=', tag).executeTakeFirst()
    if (Number(r.numDeletedRows) === 0) throw new CloudError('NotFound', `Instance ${row.uuid} has no tag '${tag}'`)
    await touch(c.db, row.uuid)
    reply.code(204)
    return reply.send()
  })
}
