import type { ComputeCtx } from './context.ts'
import { type HostState, HostView } from './host-view.ts'
import { type FlavorSnapshot, json } from './instances.ts'
import { type Resources, claim, release, resourcesOf } from './placement.ts'
import type { InstanceRow } from './schema.ts'

export type { HostState } from './host-view.ts'

// The scheduler (Nova's filter scheduler with Placement claims, docs/compute.md "Scheduling").
// Filters: compute service enabled and up, availability zone, forced host, retry hosts,
// resources, server-group affinity / anti-affinity (with max_server_per_host). Weighers:
// soft-(anti-)affinity, then free RAM (spread), then fewest instances. The chosen host is
// claimed in Placement; when the claim loses (another request took the room) the next host is
// tried, so concurrent schedulers never over-commit a provider. The hosts come from a HostView
// refreshed once per request (incrementally: only providers whose generation moved are re-read).

/** Nova's NoValidHost message when a request cannot be placed. */
export const NO_VALID_HOST = 'No valid host was found. There are not enough hosts available.'

/** Where a server was placed (its allocation is claimed on `rpUuid`). */
export interface Selection { row: InstanceRow; host: string; node: string; rpUuid: string; resources: Resources }

/** What scheduling one request (the pending servers of one reservation) gave. */
export interface ScheduleResult {
  placed: Selection[]
  /** Servers that found no host, with why (for the fault's details). */
  failed: Array<{ row: InstanceRow; reason: string }>
  /** Servers another conductor is already placing (their consumer was claimed elsewhere). */
  skipped: InstanceRow[]
}

/** The zone, host and node a create asked for: "zone", "zone:host", "zone:host:node", "zone::node". */
export function parseZone(az: string, sys: Record<string, unknown> = {}): { zone: string; host?: string; node?: string } {
  const [zone = '', host = '', node = ''] = az.split(':')
  const forcedHost = typeof sys.force_host === 'string' && sys.force_host ? sys.force_host : host
  const forcedNode = typeof sys.force_node === 'string' && sys.force_node ? sys.force_node : node
  return { zone, ...(forcedHost ? { host: forcedHost } : {}), ...(forcedNode ? { node: forcedNode } : {}) }
}

/** A claim on a server still waiting for its host after this long was left by a conductor that died. */
export const STALE_CLAIM_MS = 60_000

interface Group { uuid: string; policy: string; maxPerHost: number }

/** True when `resources` fit in `h`'s usage (placement.ts `unfit`, without building a message). */
function fits(h: HostState, wanted: Array<[string, number]>): boolean {
  for (const [rc, amount] of wanted) {
    const u = h.usage[rc]
    if (!u || amount < u.min_unit || amount > u.max_unit || amount % u.step_size !== 0 || u.used + amount > u.capacity) return false
  }
  return true
}

/** Places servers: filters, weighs and claims. One instance per controller. */
export class Scheduler {
  readonly #view: HostView
  constructor(private readonly c: ComputeCtx) { this.#view = new HostView(c) }

  /** Every registered compute host with its state (disabled and down ones included, marked), read now. */
  async hosts(): Promise<HostState[]> {
    return [...await this.#view.refresh(true)]
  }

  /**
   * Places the pending servers of one request, in launch order. When fewer than `minCount`
   * can be placed, every claim made is released and all of them fail (Nova's all-or-nothing
   * for the request's minimum). `o.fresh: false` reuses the host view of the previous request
   * of the same pass (the conductor refreshes it once per pass).
   */
  async schedule(rows: InstanceRow[], minCount = rows.length, o: { fresh?: boolean } = {}): Promise<ScheduleResult> {
    const out: ScheduleResult = { placed: [], failed: [], skipped: [] }
    if (o.fresh !== false) await this.#view.refresh()
    // Hosts this request has used so far, per server group (not yet written to the rows).
    const batch = new Map<string, Map<string, number>>()
    for (const row of rows) {
      const r = await this.placeOne(row, batch)
      if (r === 'skipped') out.skipped.push(row)
      else if (typeof r === 'string') out.failed.push({ row, reason: r })
      else out.placed.push(r)
    }
    if (out.placed.length < Math.min(minCount, rows.length - out.skipped.length)) {
      for (const p of out.placed) {
        await release(this.c.db, p.row.uuid, p.rpUuid)
        this.#view.note(p.rpUuid, p.resources, -1)
      }
      out.failed = [...out.placed.map((p) => ({ row: p.row, reason: `only ${out.placed.length} of the ${minCount} servers asked for could be placed` })),
        ...out.failed]
      out.placed = []
    }
    return out
  }

  /** Counts a placement given back after scheduling (the conductor could not assign the host). */
  released(p: Selection): void { this.#view.note(p.rpUuid, p.resources, -1) }

  /**
   * Filters, weighs and claims for one server: a Selection, 'skipped', or why it failed. A
   * failure seen on the view is checked once more against a fresh one (room may have been
   * given back since it was read), so NoValidHost is never decided on old numbers.
   */
  private async placeOne(row: InstanceRow, batch: Map<string, Map<string, number>>): Promise<Selection | 'skipped' | string> {
    const sys = json<Record<string, unknown>>(row.system_metadata, {})
    const want = parseZone(row.availability_zone, sys)
    const retry = new Set(Array.isArray(sys.retry_hosts) ? (sys.retry_hosts as string[]) : [])
    const flavor = json<FlavorSnapshot>(row.flavor, {} as FlavorSnapshot)
    const resources: Resources = resourcesOf(flavor, row.image_ref === '')
    const wanted = (Object.entries(resources) as Array<[string, number]>).filter(([, n]) => n > 0)
    const group = await this.groupOf(row.uuid)
    const members = group ? await this.memberHosts(group, batch) : new Map<string, number>()

    for (let round = 0; ; round++) {
      let hosts = this.#view.hosts as HostState[]
      const removed: string[] = []
      const keep = (name: string, f: (h: HostState) => boolean) => {
        const before = hosts.length
        hosts = hosts.filter(f)
        if (hosts.length < before) removed.push(`${name} removed ${before - hosts.length}`)
      }
      let why: string | undefined
      if (hosts.length === 0) why = 'no compute hosts are registered'
      else {
        if (want.host || want.node) {
          // A forced host skips the enabled check (Nova ignores filters for it) but must be up.
          keep('ForcedHost', (h) => (!want.host || h.host === want.host) && (!want.node || h.node === want.node))
          keep('ComputeFilter', (h) => h.up)
        } else {
          keep('ComputeFilter', (h) => h.up && !h.disabled)
        }
        if (want.zone) keep('AvailabilityZoneFilter', (h) => h.zone === want.zone)
        if (retry.size) keep('RetryFilter', (h) => !retry.has(h.host))
        keep('ResourcesFilter', (h) => fits(h, wanted))
        if (group?.policy === 'affinity') {
          const placedOn = [...members.keys()]
          if (placedOn.length) keep('ServerGroupAffinityFilter', (h) => placedOn.includes(h.host))
        } else if (group?.policy === 'anti-affinity') {
          keep('ServerGroupAntiAffinityFilter', (h) => (members.get(h.host) ?? 0) < group.maxPerHost)
        }
        if (hosts.length === 0) why = `no host passed the filters (${removed.join(', ')})`
      }
      if (why === undefined) {
        const r = await this.claimBest(row, hosts, resources, group, members, batch)
        if (r !== undefined) return r
        why = 'every candidate host was claimed full by concurrent requests'
      }
      if (round > 0) return why
      await this.#view.refresh(true)
    }
  }

  /**
   * Tries the candidates best first (the weighers' order), claiming in placement until one
   * holds. A linear pick per try instead of sorting: a claim usually holds on the first host.
   * Undefined when every candidate refused.
   */
  private async claimBest(row: InstanceRow, candidates: HostState[], resources: Resources, group: Group | undefined,
    members: Map<string, number>, batch: Map<string, Map<string, number>>): Promise<Selection | 'skipped' | undefined> {
    const soft = group?.policy === 'soft-affinity' ? -1 : group?.policy === 'soft-anti-affinity' ? 1 : 0
    const free = (h: HostState) => h.usage.MEMORY_MB?.free ?? 0
    const better = (a: HostState, b: HostState) => (soft * ((members.get(a.host) ?? 0) - (members.get(b.host) ?? 0))
      || free(b) - free(a)
      || a.instances - b.instances
      || (a.host < b.host ? -1 : a.host > b.host ? 1 : 0)) < 0
    const left = [...candidates]
    while (left.length) {
      let bi = 0
      for (let i = 1; i < left.length; i++) if (better(left[i]!, left[bi]!)) bi = i
      const h = left[bi]!
      left[bi] = left[left.length - 1]!
      left.pop()
      let r = await claim(this.c.db, row, h.rpUuid, resources)
      if (r === 'consumer-taken') {
        // Another conductor is placing it, unless its claim is old: that one died between its
        // claim and the host assignment, so the claim is given back and made again.
        const since = Date.parse(row.updated_at ?? row.created_at)
        if (!(this.c.clock.now() - since > STALE_CLAIM_MS)) return 'skipped'
        await release(this.c.db, row.uuid)
        r = await claim(this.c.db, row, h.rpUuid, resources)
        if (r === 'consumer-taken') return 'skipped'
      }
      if (r === 'no-room') {
        // The view was behind (another process claimed here): read this provider again.
        await this.#view.reload(h.rpUuid)
        continue
      }
      if (r !== 'claimed') continue
      this.#view.note(h.rpUuid, resources)
      if (group) {
        let m = batch.get(group.uuid)
        if (!m) { m = new Map(); batch.set(group.uuid, m) }
        m.set(h.host, (m.get(h.host) ?? 0) + 1)
      }
      return { row, host: h.host, node: h.node, rpUuid: h.rpUuid, resources }
    }
    return undefined
  }

  private async groupOf(uuid: string): Promise<Group | undefined> {
    const g = await this.c.db.selectFrom('server_group_members').innerJoin('server_groups', 'server_groups.uuid', 'server_group_members.group_uuid')
      .select(['server_groups.uuid', 'server_groups.policy', 'server_groups.rules'])
      .where('server_group_members.instance_uuid', '=', uuid).executeTakeFirst()
    if (!g) return undefined
    const rules = json<{ max_server_per_host?: number | string }>(g.rules, {})
    const max = Number(rules.max_server_per_host ?? 1)
    return { uuid: g.uuid, policy: g.policy, maxPerHost: Number.isFinite(max) && max >= 1 ? max : 1 }
  }

  /** How many of a group's servers each host has: placed ones (rows) plus this request's. */
  private async memberHosts(g: Group, batch: Map<string, Map<string, number>>): Promise<Map<string, number>> {
    const rows = await this.c.db.selectFrom('server_group_members').innerJoin('instances', 'instances.uuid', 'server_group_members.instance_uuid')
      .select(['instances.host', (eb) => eb.fn.countAll<number>().as('n')])
      .where('server_group_members.group_uuid', '=', g.uuid).where('instances.deleted', '=', 0).where('instances.host', 'is not', null)
      .groupBy('instances.host').execute()
    const m = new Map(rows.map((r) => [r.host!, Number(r.n)]))
    for (const [host, n] of batch.get(g.uuid) ?? []) m.set(host, (m.get(host) ?? 0) + n)
    return m
  }
}
