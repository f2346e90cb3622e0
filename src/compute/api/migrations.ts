import { createHash } from 'node:crypto'
import type { FastifyRequest } from 'fastify'
import type { Api } from '../../core/http/app.ts'
import type { Rules } from '../../core/policy.ts'
import type { ComputeCtx } from '../context.ts'
import { atLeast } from '../microversion.ts'
import { queryOf } from './common.ts'
import { novaTime } from './instance-actions.ts'

// os-migrations (admin): the resizes servers went through. Cumulo resizes on the same host and
// keeps no migrations table: each migration is the server's `resize` instance action, its
// status read from what followed it (a confirmResize or revertResize action, or the server's
// state while it waits). Flavors have string ids here, so the integer *_instance_type_id
// fields are null (Nova's schema allows it).

/** The default policy: admins only, as in Nova. */
export const migrationRules: Rules = { 'os_compute_api:os-migrations:index': 'rule:context_is_admin' }

interface Row {
  id: number; uuid: string; start_time: string; updated_at: string | null
  host: string | null; node: string | null; vm_state: string; task_state: string | null
  project_id: string; user_id: string
}

/** A stable migration uuid (2.59) derived from the action that is the migration. */
function migrationUuid(actionId: number, server: string): string {
  const h = createHash('sha256').update(`migration:${server}:${actionId}`).digest('hex')
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`
}

/** Wires GET /os-migrations. */
export function migrationRoutes(api: Api, c: ComputeCtx, P: string): void {
  c.policy.register(migrationRules)
  api.get(`${P}/os-migrations`, { config: { policy: 'os_compute_api:os-migrations:index' } }, async (req: FastifyRequest) => {
    const q = queryOf(req)
    let query = c.db.selectFrom('instance_actions as a').innerJoin('instances as i', 'i.uuid', 'a.uuid')
      .select(['a.id', 'a.uuid', 'a.start_time', 'a.updated_at', 'i.host', 'i.node', 'i.vm_state', 'i.task_state', 'i.project_id', 'i.user_id'])
      .where('a.action', '=', 'resize').orderBy('a.id', 'desc')
    if (q.instance_uuid) query = query.where('a.uuid', '=', q.instance_uuid)
    const host = q.host ?? q.source_compute
    if (host) query = query.where('i.host', '=', host)
    const rows = (await query.execute()) as Row[]
    // What ended each resize: the first confirm or revert after it.
    const ends = rows.length ? await c.db.selectFrom('instance_actions').select(['id', 'uuid', 'action'])
      .where('uuid', 'in', [...new Set(rows.map((r) => r.uuid))]).where('action', 'in', ['confirmResize', 'revertResize', 'resize'])
      .orderBy('id').execute() : []
    const statusOf = (r: Row): string => {
      const next = ends.find((e) => e.uuid === r.uuid && Number(e.id) > r.id)
      if (next?.action === 'confirmResize') return 'confirmed'
      if (next?.action === 'revertResize') return 'reverted'
      if (next?.action === 'resize') return 'error'
      if (r.vm_state === 'resized') return 'finished'
      if (r.task_state && /^resize/.test(r.task_state)) return 'migrating'
      return r.vm_state === 'error' ? 'error' : 'finished'
    }
    let migrations = rows.map((r) => {
      const out: Record<string, unknown> = {
        id: r.id, status: statusOf(r), instance_uuid: r.uuid,
        source_node: r.node, source_compute: r.host, dest_node: r.node, dest_compute: r.host, dest_host: null,
        old_instance_type_id: null, new_instance_type_id: null,
        created_at: novaTime(r.start_time), updated_at: novaTime(r.updated_at),
      }
      if (atLeast(req, '2.23')) out.migration_type = 'resize'
      if (atLeast(req, '2.59')) out.uuid = migrationUuid(r.id, r.uuid)
      if (atLeast(req, '2.80')) { out.project_id = r.project_id; out.user_id = r.user_id }
      return out
    })
    if (q.status) migrations = migrations.filter((m) => m.status === q.status)
    // Every migration here is a resize.
    if (q.migration_type && q.migration_type !== 'resize') migrations = []
    return { migrations }
  })
}
