import type { ComputeCtx } from './context.ts'

// Compute quotas (nova/quota.py with the DB driver): defaults, per-project limits and
// per-user limits within a project. -1 means unlimited.

/** Nova's default quotas (CONF.quota). */
export const DEFAULT_QUOTAS: Record<string, number> = {
  instances: 10, cores: 20, ram: 51200, metadata_items: 128, key_pairs: 100,
  server_groups: 10, server_group_members: 10,
  injected_files: 5, injected_file_content_bytes: 10240, injected_file_path_bytes: 255,
  // Network quotas Nova still shows before 2.36 (they were nova-network's; Neutron owns them now).
  floating_ips: 10, fixed_ips: -1, security_groups: 10, security_group_rules: 20,
}

/** Resources counted per user rather than per project. */
export const USER_RESOURCES = new Set(['key_pairs'])

export class QuotaService {
  constructor(private readonly c: ComputeCtx) {}

  /** A quota class: the configured defaults overridden by the class's own rows. */
  async classLimits(className: string): Promise<Record<string, number>> {
    const out = { ...DEFAULT_QUOTAS }
    const rows = await this.c.db.selectFrom('quota_classes').selectAll().where('class_name', '=', className).execute()
    for (const r of rows) if (r.resource in out) out[r.resource] = Number(r.hard_limit)
    return out
  }

  /** Sets limits of a quota class (`default` changes every project's defaults). */
  async setClass(className: string, values: Record<string, number>): Promise<void> {
    await this.c.db.transaction().execute(async (tx) => {
      for (const [resource, hard] of Object.entries(values)) {
        await tx.deleteFrom('quota_classes').where('class_name', '=', className).where('resource', '=', resource).execute()
        await tx.insertInto('quota_classes').values({ class_name: className, resource, hard_limit: hard }).execute()
      }
    })
  }

  /** The defaults every project starts from: the `default` quota class. */
  defaults(): Promise<Record<string, number>> { return this.classLimits('default') }

  /** The limits in force for a project (and a user in it, when given). */
  async limits(projectId: string, userId?: string): Promise<Record<string, number>> {
    const out = await this.defaults()
    const rows = await this.c.db.selectFrom('quotas').selectAll().where('project_id', '=', projectId)
      .where('user_id', 'in', userId ? ['', userId] : ['']).execute()
    // Project rows first, user rows override them.
    for (const r of rows.filter((x) => x.user_id === '')) out[r.resource] = Number(r.hard_limit)
    for (const r of rows.filter((x) => x.user_id !== '')) out[r.resource] = Number(r.hard_limit)
    return out
  }

  /** Sets limits for a project, or for a user within it. */
  async set(projectId: string, userId: string | undefined, values: Record<string, number>): Promise<void> {
    await this.c.db.transaction().execute(async (tx) => {
      for (const [resource, hard] of Object.entries(values)) {
        await tx.deleteFrom('quotas').where('project_id', '=', projectId).where('user_id', '=', userId ?? '')
          .where('resource', '=', resource).execute()
        await tx.insertInto('quotas').values({ project_id: projectId, user_id: userId ?? '', resource, hard_limit: hard }).execute()
      }
    })
  }

  /** Reverts a project (or one user of it) to the defaults. */
  async reset(projectId: string, userId?: string): Promise<void> {
    let del = this.c.db.deleteFrom('quotas').where('project_id', '=', projectId)
    if (userId) del = del.where('user_id', '=', userId)
    await del.execute()
  }

  /**
   * What is in use, counted from real rows. Servers and server groups are not built yet, so
   * nothing can use instances, cores, ram or server groups: 0 is the true count.
   */
  async usage(userId?: string): Promise<Record<string, number>> {
    const used: Record<string, number> = Object.fromEntries(Object.keys(DEFAULT_QUOTAS).map((k) => [k, 0]))
    if (userId) {
      const r = await this.c.db.selectFrom('key_pairs').select((eb) => eb.fn.countAll().as('n'))
        .where('user_id', '=', userId).executeTakeFirst()
      used.key_pairs = Number(r?.n ?? 0)
    }
    return used
  }
}
