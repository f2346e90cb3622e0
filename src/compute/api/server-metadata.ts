import type { FastifyRequest } from 'fastify'
import type { Api } from '../../core/http/app.ts'
import { bodyOf } from '../../core/http/app.ts'
import { CloudError, badRequest } from '../../core/errors.ts'
import type { ComputeCtx } from '../context.ts'
import { bumpHost, notify } from '../instances.ts'
import type { QuotaService } from '../quotas.ts'
import type { InstanceRow } from '../schema.ts'
import { METADATA_SCHEMA } from '../server-create.ts'
import { type ServerService, checkLocked } from '../servers.ts'
import { validateBody } from './common.ts'
import { computeRequestId } from './servers.ts'

// Server metadata (nova/api/openstack/compute/server_metadata.py, schemas/server_metadata.py):
// list, merge (POST), replace (PUT), one item show/set/delete. Changes need an unlocked server
// (or an admin) in a settled state, stay within the metadata_items quota, and move the host's
// revision so the agent's metadata service sees them.

const META_BODY = { type: 'object', required: ['metadata'], additionalProperties: false, properties: { metadata: METADATA_SCHEMA } }
const ITEM_BODY = {
  type: 'object', required: ['meta'], additionalProperties: false,
  properties: { meta: { ...METADATA_SCHEMA, minProperties: 1, maxProperties: 1 } },
}
/** vm_states in which Nova lets metadata change (compute/api.py update_instance_metadata). */
const SETTLED = ['active', 'paused', 'suspended', 'stopped']

/** Nova's 409 for an action in the wrong state (common.raise_http_conflict_for_instance_invalid_state). */
export function invalidState(row: InstanceRow, action: string, allowed: string[], needNoTask = true): void {
  if (!allowed.includes(row.vm_state)) {
    throw new CloudError('Conflict', `Cannot '${action}' instance ${row.uuid} while it is in vm_state ${row.vm_state}`)
  }
  if (needNoTask && row.task_state) {
    throw new CloudError('Conflict', `Cannot '${action}' instance ${row.uuid} while it is in task_state ${row.task_state}`)
  }
}

/** Wires /servers/{id}/metadata. */
export function serverMetadataRoutes(api: Api, c: ComputeCtx, servers: ServerService, quotas: QuotaService, P: string): void {
  const cfg = { config: { selfPolicy: true }, onRequest: computeRequestId }
  const id = (req: FastifyRequest) => (req.params as { id: string }).id
  const all = async (uuid: string) => Object.fromEntries((await c.db.selectFrom('instance_metadata').select(['key', 'value'])
    .where('uuid', '=', uuid).orderBy('key').execute()).map((m) => [m.key, m.value]))

  /** Writes metadata (merging, or replacing when `replace`), inside the quota; answers all of it. */
  async function write(req: FastifyRequest, row: InstanceRow, items: Record<string, string>, replace: boolean, action: string) {
    checkLocked(c, req, row)
    invalidState(row, action, SETTLED)
    const current = await all(row.uuid)
    const next = replace ? { ...items } : { ...current, ...items }
    const limit = (await quotas.limits(row.project_id))?.metadata_items ?? -1
    if (limit >= 0 && Object.keys(next).length > limit) {
      throw new CloudError('Forbidden', `Maximum number of metadata items exceeds ${limit}`)
    }
    await c.db.transaction().execute(async (tx) => {
      if (replace) await tx.deleteFrom('instance_metadata').where('uuid', '=', row.uuid).execute()
      else if (Object.keys(items).length) {
        await tx.deleteFrom('instance_metadata').where('uuid', '=', row.uuid).where('key', 'in', Object.keys(items)).execute()
      }
      for (const [key, value] of Object.entries(replace ? next : items)) {
        await tx.insertInto('instance_metadata').values({ uuid: row.uuid, key, value }).execute()
      }
      await tx.updateTable('instances').set({ updated_at: new Date(c.clock.now()).toISOString() }).where('uuid', '=', row.uuid).execute()
      await bumpHost(tx, row.host)
    })
    notify(c, row.host)
    return next
  }

  api.get(`${P}/servers/:id/metadata`, cfg, async (req) => {
    const row = await servers.find(req, id(req), 'os_compute_api:server-metadata:index')
    return { metadata: await all(row.uuid) }
  })

  api.post(`${P}/servers/:id/metadata`, { ...cfg, preValidation: async (req) => validateBody(req, META_BODY) }, async (req) => {
    const row = await servers.find(req, id(req), 'os_compute_api:server-metadata:create')
    return { metadata: await write(req, row, bodyOf<{ metadata: Record<string, string> }>(req).metadata, false, 'update metadata') }
  })

  api.put(`${P}/servers/:id/metadata`, { ...cfg, preValidation: async (req) => validateBody(req, META_BODY) }, async (req) => {
    const row = await servers.find(req, id(req), 'os_compute_api:server-metadata:update_all')
    return { metadata: await write(req, row, bodyOf<{ metadata: Record<string, string> }>(req).metadata, true, 'update metadata') }
  })

  api.get(`${P}/servers/:id/metadata/:key`, cfg, async (req) => {
    const row = await servers.find(req, id(req), 'os_compute_api:server-metadata:show')
    const key = (req.params as { key: string }).key
    const m = await c.db.selectFrom('instance_metadata').select('value').where('uuid', '=', row.uuid).where('key', '=', key).executeTakeFirst()
    if (!m) throw new CloudError('NotFound', 'Metadata item was not found')
    return { meta: { [key]: m.value } }
  })

  api.put(`${P}/servers/:id/metadata/:key`, {
    ...cfg,
    preValidation: async (req) => {
      validateBody(req, ITEM_BODY)
      if (!((req.params as { key: string }).key in bodyOf<{ meta: object }>(req).meta)) throw badRequest('Request body and URI mismatch')
    },
  }, async (req) => {
    const row = await servers.find(req, id(req), 'os_compute_api:server-metadata:update')
    const meta = bodyOf<{ meta: Record<string, string> }>(req).meta
    await write(req, row, meta, false, 'update metadata')
    return { meta }
  })

  api.delete(`${P}/servers/:id/metadata/:key`, cfg, async (req, reply) => {
    const row = await servers.find(req, id(req), 'os_compute_api:server-metadata:delete')
    const key = (req.params as { key: string }).key
    checkLocked(c, req, row)
    const m = await c.db.selectFrom('instance_metadata').select('key').where('uuid', '=', row.uuid).where('key', '=', key).executeTakeFirst()
    if (!m) throw new CloudError('NotFound', 'Metadata item was not found')
    invalidState(row, 'delete metadata', SETTLED)
    await c.db.transaction().execute(async (tx) => {
      await tx.deleteFrom('instance_metadata').where('uuid', '=', row.uuid).where('key', '=', key).execute()
      await tx.updateTable('instances').set({ updated_at: new Date(c.clock.now()).toISOString() }).where('uuid', '=', row.uuid).execute()
      await bumpHost(tx, row.host)
    })
    notify(c, row.host)
    reply.code(204)
    return reply.send()
  })
}
