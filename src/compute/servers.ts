import type { FastifyRequest } from 'fastify'
import { CloudError } from '../core/errors.ts'
import { deny } from './api/common.ts'
import { SERVICE_DOWN_MS } from './api/server-views.ts'
import type { ComputeCtx } from './context.ts'
import { bumpHost, getInstance, instanceNotFound, notify, recordAction, setDesired } from './instances.ts'
import type { QuotaService } from './quotas.ts'
import type { InstanceRow } from './schema.ts'
import type { PreparedCreate } from './server-create.ts'

// The servers service: create (inserting what server-create.ts prepared), load with Nova's
// project scoping, update, delete (through the agent, or "local delete" when there is no live
// host). Lists are in server-list.ts. See docs/compute.md "A server's state".

/** Nova's 409 for a locked server and a caller who is not an admin (compute/api.py check_instance_lock). */
export function checkLocked(c: ComputeCtx, req: FastifyRequest, row: InstanceRow): void {
  if (Number(row.locked) && !c.policy.check('context_is_admin', req.ctx)) {
    throw new CloudError('Conflict', `Instance ${row.uuid} is locked`)
  }
}

/** Server operations of the API; policy rules are checked against the server's project. */
export class ServerService {
  constructor(private readonly c: ComputeCtx, private readonly quotas: QuotaService) {}

  /**
   * A live server the caller may see, with `rule` checked against its project: another
   * project's server is 404 (as Nova's project-filtered lookup), unless the rule lets the
   * caller act on it (admins).
   */
  async find(req: FastifyRequest, uuid: string, rule: string): Promise<InstanceRow> {
    const row = await getInstance(this.c.db, uuid)
    const target = { project_id: row.project_id, user_id: row.user_id }
    if (row.project_id !== req.ctx.projectId && !this.c.policy.check('context_is_admin', req.ctx)) throw instanceNotFound(uuid)
    if (!this.c.policy.check(rule, req.ctx, target)) throw deny(rule)
    return row
  }

  /** Inserts prepared servers with their metadata, tags, group membership and `create` actions. */
  async create(req: FastifyRequest, p: PreparedCreate): Promise<InstanceRow[]> {
    const c = this.c
    await c.db.transaction().execute(async (tx) => {
      for (const row of p.rows) {
        await tx.insertInto('instances').values(row).execute()
        for (const [key, value] of Object.entries(p.metadata)) {
          await tx.insertInto('instance_metadata').values({ uuid: row.uuid, key, value }).execute()
        }
        for (const tag of p.tags) await tx.insertInto('instance_tags').values({ uuid: row.uuid, tag }).execute()
        if (p.groupUuid) await tx.insertInto('server_group_members').values({ group_uuid: p.groupUuid, instance_uuid: row.uuid }).execute()
        await recordAction(tx, c, { uuid: row.uuid, action: 'create', requestId: req.id, userId: req.ctx.userId, projectId: row.project_id })
      }
    })
    // Nova's quota recheck: two creates racing past the first check cannot both stay.
    const over = await this.quotas.overServers(p.rows[0]!.project_id)
    if (over) {
      const uuids = p.rows.map((r) => r.uuid)
      await c.db.transaction().execute(async (tx) => {
        const actions = tx.selectFrom('instance_actions').select('id').where('uuid', 'in', uuids)
        await tx.deleteFrom('instance_action_events').where('action_id', 'in', actions).execute()
        for (const t of ['instance_actions', 'instance_metadata', 'instance_tags'] as const) {
          await tx.deleteFrom(t).where('uuid', 'in', uuids).execute()
        }
        await tx.deleteFrom('server_group_members').where('instance_uuid', 'in', uuids).execute()
        await tx.deleteFrom('instances').where('uuid', 'in', uuids).execute()
      })
      throw new CloudError('Forbidden', over)
    }
    // The conductor places them (docs/compute.md "Create").
    c.conductor?.wake()
    return p.rows
  }

  /** Changes the user-visible attributes of a server (name, description, access IPs, hostname). */
  async update(row: InstanceRow, patch: Partial<Pick<InstanceRow, 'display_name' | 'display_description' | 'access_ip_v4' | 'access_ip_v6' | 'hostname'>>, diskConfig?: string): Promise<InstanceRow> {
    const set: Record<string, unknown> = { ...patch, updated_at: new Date(this.c.clock.now()).toISOString() }
    if (diskConfig) {
      const sys = JSON.parse(row.system_metadata) as Record<string, string>
      set.system_metadata = JSON.stringify({ ...sys, disk_config: diskConfig })
    }
    await this.c.db.transaction().execute(async (tx) => {
      const r = await tx.updateTable('instances').set(set as never).where('uuid', '=', row.uuid).where('deleted', '=', 0).executeTakeFirst()
      if (Number(r.numUpdatedRows) === 0) throw instanceNotFound(row.uuid)
      // The agent's watch list carries name and hostname (the metadata service shows them).
      await bumpHost(tx, row.host)
    })
    notify(this.c, row.host)
    return getInstance(this.c.db, row.uuid)
  }

  /** True when the server's host is gone or its compute service has not been seen for 60 s. */
  private async hostIsDown(host: string | null): Promise<boolean> {
    if (!host) return true
    const svc = await this.c.db.selectFrom('services').select(['last_seen_at', 'forced_down'])
      .where('host', '=', host).where('binary', '=', 'nova-compute').executeTakeFirst()
    if (!svc || Number(svc.forced_down) || !svc.last_seen_at) return true
    return this.c.clock.now() - Date.parse(svc.last_seen_at) > SERVICE_DOWN_MS
  }

  /**
   * Deletes a server: its agent destroys it (desired_power deleted, task_state deleting), or,
   * with no live host, at once here ("local delete"), releasing its allocations and group
   * membership. Guarded on the host seen, so a conductor placing it meanwhile is not ignored.
   */
  async delete(req: FastifyRequest, row: InstanceRow): Promise<void> {
    const c = this.c
    for (let attempt = 0; attempt < 3; attempt++) {
      const now = new Date(c.clock.now()).toISOString()
      if (await this.hostIsDown(row.host)) {
        const done = await c.db.transaction().execute(async (tx) => {
          let q = tx.updateTable('instances').set({
            deleted: 1, deleted_at: now, terminated_at: now, updated_at: now, vm_state: 'deleted', task_state: null,
            desired_power: 'deleted', desired_gen: Number(row.desired_gen) + 1, pending_op: null,
          }).where('uuid', '=', row.uuid).where('deleted', '=', 0)
          q = row.host === null ? q.where('host', 'is', null) : q.where('host', '=', row.host)
          const r = await q.executeTakeFirst()
          if (Number(r.numUpdatedRows) === 0) return false
          await tx.deleteFrom('allocations').where('consumer_uuid', '=', row.uuid).execute()
          await tx.deleteFrom('consumers').where('uuid', '=', row.uuid).execute()
          await tx.deleteFrom('server_group_members').where('instance_uuid', '=', row.uuid).execute()
          await recordAction(tx, c, { uuid: row.uuid, action: 'delete', requestId: req.id, userId: req.ctx.userId, projectId: row.project_id })
          // An agent that comes back drops the guest: it is no longer in its watch list.
          await bumpHost(tx, row.host)
          return true
        })
        if (done) { notify(c, row.host); return }
      } else {
        await c.db.transaction().execute(async (tx) => {
          await setDesired(tx, row, { desired_power: 'deleted', task_state: 'deleting', updated_at: now })
          await recordAction(tx, c, { uuid: row.uuid, action: 'delete', requestId: req.id, userId: req.ctx.userId, projectId: row.project_id })
        })
        notify(c, row.host)
        return
      }
      // The host changed under us (the conductor placed it): decide again on the new row.
      row = await getInstance(c.db, row.uuid)
    }
    throw new CloudError('Conflict', `Instance ${row.uuid} changed while it was being deleted; try again.`)
  }
}
