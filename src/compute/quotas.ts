import { CloudError } from '../core/errors.ts'
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
   * What is in use, counted from real rows: key pairs per user; instances, cores and RAM from the
   * project's servers that are not deleted (their flavor snapshot), and its server groups.
   */
  async usage(userId?: string, projectId?: string): Promise<Record<string, number>> {
    const used: Record<string, number> = Object.fromEntries(Object.keys(DEFAULT_QUOTAS).map((k) => [k, 0]))
    if (userId) {
      const r = await this.c.db.selectFrom('key_pairs').select((eb) => eb.fn.countAll().as('n'))
        .where('user_id', '=', userId).executeTakeFirst()
      used.key_pairs = Number(r?.n ?? 0)
    }
    if (projectId !== undefined) {
      Object.assign(used, await this.serverUsage(projectId))
      const g = await this.c.db.selectFrom('server_groups').select((eb) => eb.fn.countAll().as('n'))
        .where('project_id', '=', projectId).executeTakeFirst()
      used.server_groups = Number(g?.n ?? 0)
    }
    return used
  }

  /**
   * Instances, cores and RAM used by a project's live servers. The flavor is a JSON column: the
   * database groups servers by it (a project has few distinct flavors), so each is parsed once.
   */
  async serverUsage(projectId: string): Promise<{ instances: number; cores: number; ram: number }> {
    const rows = await this.c.db.selectFrom('instances').select((eb) => ['flavor', eb.fn.countAll().as('n')])
      .where('project_id', '=', projectId).where('deleted', '=', 0).groupBy('flavor').execute()
    let instances = 0
    let cores = 0
    let ram = 0
    for (const r of rows) {
      const n = Number(r.n)
      const f = JSON.parse(r.flavor) as { vcpus?: number; memory_mb?: number }
      instances += n
      cores += n * Number(f.vcpus ?? 0)
      ram += n * Number(f.memory_mb ?? 0)
    }
    return { instances, cores, ram }
  }

  /** True when none of instances, cores and RAM is limited: nothing to count at create. */
  private static unlimited(limits: Record<string, number>): boolean {
    return limits.instances! < 0 && limits.cores! < 0 && limits.ram! < 0
  }

  /**
   * How many of `min..max` new servers of `flavor` fit in the project's quota (Nova's
   * compute/utils.py check_num_instances_quota): all of them, or as many as the headroom allows
   * when that is at least `min`, else 403 TooManyInstances with Nova's message. With a server
   * group, its member quota too.
   */
  async allowedInstances(projectId: string, flavor: { vcpus: number; memory_mb: number },
    min: number, max: number, groupUuid?: string): Promise<number> {
    const limits = await this.limits(projectId)
    const used = QuotaService.unlimited(limits) ? { instances: 0, cores: 0, ram: 0 } : await this.serverUsage(projectId)
    const per = { instances: 1, cores: Number(flavor.vcpus), ram: Number(flavor.memory_mb) }
    const names = ['cores', 'instances', 'ram'] as const
    const overs = names.filter((r) => limits[r]! >= 0 && used[r] + max * per[r] > limits[r]!)
    let allowed = max
    if (overs.length) {
      for (const r of names) {
        if (limits[r]! >= 0 && per[r] > 0) allowed = Math.min(allowed, Math.floor(Math.max(0, limits[r]! - used[r]) / per[r]))
      }
      if (allowed <= 0 || allowed < min) {
        const requested = { instances: min === max ? String(min) : `${min}-${max}`, cores: String(max * per.cores), ram: String(max * per.ram) }
        const list = (f: (r: typeof names[number]) => string) => overs.map(f).join(', ')
        throw new CloudError('Forbidden', `Quota exceeded for ${list((r) => r)}: Requested ${list((r) => requested[r])}, ` +
          `but already used ${list((r) => String(used[r]))} of ${list((r) => String(limits[r]))} ${list((r) => r)}`)
      }
    }
    if (groupUuid !== undefined) {
      const limit = limits.server_group_members!
      if (limit >= 0) {
        const r = await this.c.db.selectFrom('server_group_members').select((eb) => eb.fn.countAll().as('n'))
          .where('group_uuid', '=', groupUuid).executeTakeFirst()
        if (Number(r?.n ?? 0) + allowed > limit) throw new CloudError('Forbidden', 'Quota exceeded, too many servers in group')
      }
    }
    return allowed
  }

  /**
   * Nova's check of a change in instances, cores or RAM (resize: the new flavor minus the old):
   * 403 TooManyInstances with Nova's message when it would go over a limit; negative deltas pass.
   */
  async checkServerDeltas(projectId: string, deltas: Partial<Record<'instances' | 'cores' | 'ram', number>>): Promise<void> {
    const limits = await this.limits(projectId)
    const used = await this.serverUsage(projectId)
    const overs = (['cores', 'instances', 'ram'] as const)
      .filter((r) => (deltas[r] ?? 0) > 0 && limits[r]! >= 0 && used[r] + deltas[r]! > limits[r]!)
    if (overs.length === 0) return
    const list = (f: (r: typeof overs[number]) => string) => overs.map(f).join(', ')
    throw new CloudError('Forbidden', `Quota exceeded for ${list((r) => r)}: Requested ${list((r) => String(deltas[r]))}, ` +
      `but already used ${list((r) => String(used[r]))} of ${list((r) => String(limits[r]))} ${list((r) => r)}`)
  }

  /** After servers were inserted: the first resource a project is now over, if any (Nova's quota recheck). */
  async overServers(projectId: string): Promise<string | undefined> {
    const limits = await this.limits(projectId)
    if (QuotaService.unlimited(limits)) return undefined
    const used = await this.serverUsage(projectId)
    for (const r of ['cores', 'instances', 'ram'] as const) {
      if (limits[r]! >= 0 && used[r] > limits[r]!) {
        return `Quota exceeded for ${r}: Requested 0, but already used ${used[r]} of ${limits[r]} ${r}`
      }
    }
    return undefined
  }
}
