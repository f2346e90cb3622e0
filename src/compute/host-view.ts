import type { ComputeCtx } from './context.ts'
import { COMPUTE_BINARY, serviceUp } from './agent-hosts.ts'
import { type ClassUsage, type Resources, capacityOf } from './placement.ts'

// The scheduler's picture of every compute host (Nova's HostManager host states), kept between
// conductor passes so that a pass does not re-read every inventory, allocation and server of the
// cloud: at 1,000 hosts and 10,000 servers that read costs more than placing the servers does.
//
// What stays exact: placement bumps a provider's generation by one on every claim, release and
// inventory change, and generations only grow. So the sum of all generations, against the sum
// the view expects (what it read plus one per claim or release this process made since),
// tells in one cheap query whether anyone else changed any provider; the services' count and
// newest updated_at tell the same of the services (enable, disable, force-down). Nothing
// changed: the view as this process kept it is current. Something changed, or the view is
// older than MAX_AGE_MS (heartbeats move "up" without touching updated_at): the services are
// read again, and usage and instance counts of each provider whose generation moved.
// Whatever still slips by (a claim by another process between two checks) is caught by the
// claim itself, which re-checks the provider in its transaction and answers no-room; the
// provider is then read again. The view only chooses where to try: placement decides what fits.

/** A compute host as the scheduler sees it. */
export interface HostState {
  host: string; node: string; rpUuid: string; zone: string; disabled: boolean; up: boolean
  usage: Record<string, ClassUsage>; instances: number
}

interface Entry extends HostState {
  /** The provider generation `usage` and `instances` were read at; -1 after a local change (re-read next time). */
  generation: number
}

/** Largest IN list per query (SQLite's variable limit is 32766; PostgreSQL's 65535). */
const CHUNK = 500
/** A view older than this is read again even when nothing seems changed (services going down). */
export const MAX_AGE_MS = 1000

/** What the cheap check compares. */
interface Stamp { providers: number; generations: number; services: number; servicesUpdated: string }

/** The compute hosts with their usage, refreshed incrementally. One per scheduler. */
export class HostView {
  #hosts: Entry[] = []
  #byRp = new Map<string, Entry>()
  /** The stamp as of the last full read, with this process's own changes since added. */
  #expected: Stamp | undefined
  #readAt = 0

  constructor(private readonly c: ComputeCtx) {}

  /** The hosts as of the last refresh plus this process's claims since. */
  get hosts(): readonly HostState[] { return this.#hosts }

  /**
   * Brings the view up to date: nothing is read but the stamp when nothing changed since the
   * last read (and it is younger than MAX_AGE_MS); otherwise services and generations, and
   * usage and instance counts of the providers whose generation moved (all of them the first
   * time). `force` reads again whatever the stamp says.
   */
  async refresh(force = false): Promise<readonly HostState[]> {
    const now = this.c.clock.now()
    const stamp = await this.#stamp()
    const e = this.#expected
    if (!force && e && now - this.#readAt < MAX_AGE_MS && e.providers === stamp.providers && e.generations === stamp.generations
      && e.services === stamp.services && e.servicesUpdated === stamp.servicesUpdated) return this.#hosts
    await this.#read(now)
    // Read before the services: a change landing in between makes the next check read again.
    this.#expected = stamp
    this.#readAt = now
    return this.#hosts
  }

  /** The providers' count and generation sum, the services' count and newest change. */
  async #stamp(): Promise<Stamp> {
    const db = this.c.db
    const [rp, svc] = await Promise.all([
      db.selectFrom('resource_providers').select((eb) => [eb.fn.countAll<number>().as('n'), eb.fn.sum<number>('generation').as('g')])
        .executeTakeFirstOrThrow(),
      db.selectFrom('services').select((eb) => [eb.fn.countAll<number>().as('n'), eb.fn.max('updated_at').as('u')])
        .executeTakeFirstOrThrow(),
    ])
    return { providers: Number(rp.n), generations: Number(rp.g ?? 0), services: Number(svc.n), servicesUpdated: String(svc.u ?? '') }
  }

  async #read(now: number): Promise<void> {
    const db = this.c.db
    const rows = await db.selectFrom('services')
      .innerJoin('compute_nodes', 'compute_nodes.host', 'services.host')
      .leftJoin('resource_providers', 'resource_providers.uuid', 'compute_nodes.uuid')
      .select(['services.host', 'services.zone', 'services.disabled', 'services.forced_down', 'services.last_seen_at',
        'compute_nodes.uuid', 'compute_nodes.hypervisor_hostname', 'resource_providers.generation'])
      .where('services.binary', '=', COMPUTE_BINARY).execute()
    const next: Entry[] = []
    const stale: Entry[] = []
    const byRp = new Map<string, Entry>()
    for (const r of rows) {
      const old = this.#byRp.get(r.uuid)
      const generation = r.generation === null ? -1 : Number(r.generation)
      const e: Entry = {
        host: r.host, node: r.hypervisor_hostname, rpUuid: r.uuid, zone: r.zone, disabled: Boolean(Number(r.disabled)),
        up: serviceUp(r, now), usage: old?.usage ?? {}, instances: old?.instances ?? 0, generation,
      }
      if (!old || old.host !== r.host || old.generation < 0 || old.generation !== generation) stale.push(e)
      next.push(e)
      byRp.set(r.uuid, e)
    }
    await this.#load(stale)
    this.#hosts = next
    this.#byRp = byRp
  }

  /** Re-reads one provider's usage (a claim found it fuller than the view said). */
  async reload(rpUuid: string): Promise<void> {
    const e = this.#byRp.get(rpUuid)
    if (!e) return
    const gen = await this.c.db.selectFrom('resource_providers').select('generation').where('uuid', '=', rpUuid).executeTakeFirst()
    e.generation = gen ? Number(gen.generation) : -1
    await this.#load([e])
    // Someone else changed providers: the next refresh reads everything that moved.
    this.#expected = undefined
  }

  /** Counts a claim this process made (or, with `sign` −1, gave back) on a provider. */
  note(rpUuid: string, resources: Resources, sign: 1 | -1 = 1): void {
    const e = this.#byRp.get(rpUuid)
    if (!e) return
    for (const [rc, amount] of Object.entries(resources) as Array<[string, number]>) {
      const u = e.usage[rc]
      if (!u || !amount) continue
      u.used += sign * amount
      u.free = u.capacity - u.used
    }
    e.instances += sign
    // Our claim or release moved the provider's generation by one: expected, not a change by
    // someone else; a full read takes the provider again (its generation is unknown here).
    e.generation = -1
    if (this.#expected) this.#expected.generations += 1
  }

  /** Reads usage and instance counts of `entries` in a few queries. */
  async #load(entries: Entry[]): Promise<void> {
    const db = this.c.db
    for (let i = 0; i < entries.length; i += CHUNK) {
      const part = entries.slice(i, i + CHUNK)
      const rps = part.map((e) => e.rpUuid)
      const hosts = part.map((e) => e.host)
      const [invs, used, counts] = await Promise.all([
        db.selectFrom('inventories').selectAll().where('rp_uuid', 'in', rps).execute(),
        db.selectFrom('allocations').select(['rp_uuid', 'resource_class', (eb) => eb.fn.sum<number>('used').as('used')])
          .where('rp_uuid', 'in', rps).groupBy(['rp_uuid', 'resource_class']).execute(),
        db.selectFrom('instances').select(['host', (eb) => eb.fn.countAll<number>().as('n')])
          .where('host', 'in', hosts).where('deleted', '=', 0).groupBy('host').execute(),
      ])
      const u = new Map(used.map((r) => [`${r.rp_uuid} ${r.resource_class}`, Number(r.used)]))
      const n = new Map(counts.map((r) => [r.host!, Number(r.n)]))
      const byRp = new Map(part.map((e) => [e.rpUuid, e]))
      for (const e of part) { e.usage = {}; e.instances = n.get(e.host) ?? 0 }
      for (const inv of invs) {
        const e = byRp.get(inv.rp_uuid)!
        const capacity = capacityOf(inv)
        const usedN = u.get(`${inv.rp_uuid} ${inv.resource_class}`) ?? 0
        e.usage[inv.resource_class] = {
          total: Number(inv.total), reserved: Number(inv.reserved), min_unit: Number(inv.min_unit), max_unit: Number(inv.max_unit),
          step_size: Number(inv.step_size), allocation_ratio: Number(inv.allocation_ratio), capacity, used: usedN, free: capacity - usedN,
        }
      }
    }
  }
}
