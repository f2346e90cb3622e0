import { randomUUID } from 'node:crypto'
import { CloudError } from '../core/errors.ts'
import type { ComputeCtx } from './context.ts'
import type { QuotaService } from './quotas.ts'
import type { ServerGroupRow } from './schema.ts'

// Server groups (nova/objects/instance_group.py): a policy the scheduler honours for the
// servers created into the group, and the group's live members.

/** A server group with its members that are not deleted. */
export interface ServerGroup {
  uuid: string; name: string; projectId: string; userId: string; policy: string
  rules: Record<string, unknown>; members: string[]; createdAt: string
}

/** Nova's 404 for a group. */
export const groupNotFound = (id: string) => new CloudError('NotFound', `Server group ${id} could not be found.`)

/** Server groups: create under quota, list, show, delete. */
export class ServerGroupService {
  constructor(private readonly c: ComputeCtx, private readonly quotas: QuotaService) {}

  /**
   * Creates a group within the project's server_groups quota (counted after the insert in the
   * same transaction, so a create that would pass the limit leaves nothing behind).
   */
  async create(g: { name: string; projectId: string; userId: string; policy: string; rules: Record<string, unknown> }): Promise<ServerGroup> {
    const limit = (await this.quotas.limits(g.projectId, g.userId)).server_groups ?? -1
    const uuid = randomUUID()
    const now = new Date(this.c.clock.now()).toISOString()
    const values = { uuid, name: g.name, project_id: g.projectId, user_id: g.userId, policy: g.policy, rules: JSON.stringify(g.rules), created_at: now }
    await this.c.db.transaction().execute(async (tx) => {
      await tx.insertInto('server_groups').values(values).execute()
      if (limit < 0) return
      // Counted after our own insert, in the same transaction: over the limit rolls it back.
      const n = await tx.selectFrom('server_groups').select((s) => s.fn.countAll().as('n')).where('project_id', '=', g.projectId).executeTakeFirst()
      if (Number(n?.n ?? 0) > limit) throw new CloudError('Forbidden', 'Quota exceeded, too many server groups.')
    })
    return this.get(uuid)
  }

  /** One group (404 when unknown). Scoping is the policy's job, as in Nova. */
  async get(uuid: string): Promise<ServerGroup> {
    const row = await this.c.db.selectFrom('server_groups').selectAll().where('uuid', '=', uuid).executeTakeFirst()
    if (!row) throw groupNotFound(uuid)
    return (await this.withMembers([row]))[0]!
  }

  /** Groups of a project (or of all projects), oldest first, `offset`/`limit` applied. */
  async list(o: { projectId?: string; offset: number; limit: number }): Promise<ServerGroup[]> {
    let q = this.c.db.selectFrom('server_groups').selectAll()
    if (o.projectId !== undefined) q = q.where('project_id', '=', o.projectId)
    const rows = await q.orderBy('created_at').orderBy('uuid').limit(o.limit).offset(o.offset).execute()
    return this.withMembers(rows)
  }

  /** Deletes a group (its membership rows go with it). */
  async delete(uuid: string): Promise<void> {
    const r = await this.c.db.deleteFrom('server_groups').where('uuid', '=', uuid).executeTakeFirst()
    if (Number(r.numDeletedRows) === 0) throw groupNotFound(uuid)
  }

  private async withMembers(rows: ServerGroupRow[]): Promise<ServerGroup[]> {
    const ids = rows.map((r) => r.uuid)
    const members = ids.length === 0 ? [] : await this.c.db.selectFrom('server_group_members')
      .innerJoin('instances', 'instances.uuid', 'server_group_members.instance_uuid')
      .select(['server_group_members.group_uuid as g', 'server_group_members.instance_uuid as i'])
      .where('server_group_members.group_uuid', 'in', ids).where('instances.deleted', '=', 0).execute()
    return rows.map((r) => ({
      uuid: r.uuid, name: r.name, projectId: r.project_id, userId: r.user_id, policy: r.policy,
      rules: JSON.parse(r.rules || '{}'), members: members.filter((m) => m.g === r.uuid).map((m) => m.i), createdAt: r.created_at,
    }))
  }
}
