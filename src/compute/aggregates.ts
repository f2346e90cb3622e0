import { randomUUID } from 'node:crypto'
import type { Kysely, Transaction } from 'kysely'
import { CloudError, badRequest, conflict } from '../core/errors.ts'
import { isUniqueViolation } from '../core/db/index.ts'
import { COMPUTE_BINARY, DEFAULT_ZONE } from './agent-hosts.ts'
import type { ComputeCtx } from './context.ts'
import type { AggregateRow, ComputeSchema } from './schema.ts'

// Host aggregates (nova/compute/api.py AggregateAPI). As in Nova, an aggregate's availability
// zone is its metadata key `availability_zone`, and a host's zone is the zone of an aggregate it
// is in, else the default `nova`. Everything that reads zones (scheduler, os-availability-zone,
// os-services, servers) reads `services.zone`, so every change here that can move a host's zone
// rewrites that column for the host in the same transaction.

/** The metadata key that makes an aggregate an availability zone. */
export const AZ_KEY = 'availability_zone'

type Db = Kysely<ComputeSchema> | Transaction<ComputeSchema>

/** An aggregate with its hosts and metadata. */
export interface Aggregate { row: AggregateRow; hosts: string[]; metadata: Record<string, string> }

/**
 * The zone `host` takes from its aggregates (the lowest-id aggregate with an AZ), or null when it
 * is in none with an AZ.
 */
export async function aggregateZoneOf(db: Db, host: string): Promise<string | null> {
  const r = await db.selectFrom('aggregate_hosts as h')
    .innerJoin('aggregate_metadata as m', 'm.aggregate_id', 'h.aggregate_id')
    .select('m.value').where('h.host', '=', host).where('m.key', '=', AZ_KEY)
    .orderBy('h.aggregate_id').executeTakeFirst()
  return r?.value ?? null
}

/**
 * Keeps the zone of a host in an AZ aggregate when its agent registers or heartbeats (the agent's
 * own `zone` only counts for hosts in no AZ aggregate). Call inside the registration transaction.
 */
export async function keepAggregateZone(db: Db, host: string): Promise<void> {
  const zone = await aggregateZoneOf(db, host)
  if (zone === null) return
  await db.updateTable('services').set({ zone }).where('host', '=', host).where('binary', '=', COMPUTE_BINARY)
    .where('zone', '<>', zone).execute()
}

/**
 * Recomputes `services.zone` of `host` from its aggregates; a host that left its last AZ
 * aggregate goes back to the default zone (its agent's declared zone comes back with its next
 * heartbeat).
 */
async function syncHostZone(db: Db, host: string): Promise<void> {
  const zone = (await aggregateZoneOf(db, host)) ?? DEFAULT_ZONE
  await db.updateTable('services').set({ zone }).where('host', '=', host).where('binary', '=', COMPUTE_BINARY)
    .where('zone', '<>', zone).execute()
}

const notFound = (id: number | string) => new CloudError('NotFound', `Aggregate ${id} could not be found.`)

/** The aggregate service behind os-aggregates. Errors are Nova's (messages and kinds). */
export class AggregateService {
  constructor(private readonly c: ComputeCtx) {}

  private now(): string { return new Date(this.c.clock.now()).toISOString() }

  /** Loads aggregates with hosts and metadata, ordered by id. */
  private async load(db: Db, ids?: number[]): Promise<Aggregate[]> {
    let q = db.selectFrom('aggregates').selectAll().orderBy('id')
    if (ids) q = q.where('id', 'in', ids.length ? ids : [-1])
    const rows = await q.execute()
    if (!rows.length) return []
    const keys = rows.map((r) => Number(r.id))
    const hosts = await db.selectFrom('aggregate_hosts').selectAll().where('aggregate_id', 'in', keys).orderBy('host').execute()
    const meta = await db.selectFrom('aggregate_metadata').selectAll().where('aggregate_id', 'in', keys).orderBy('key').execute()
    return rows.map((row) => ({
      row: { ...row, id: Number(row.id) },
      hosts: hosts.filter((h) => Number(h.aggregate_id) === Number(row.id)).map((h) => h.host),
      metadata: Object.fromEntries(meta.filter((m) => Number(m.aggregate_id) === Number(row.id)).map((m) => [m.key, m.value])),
    }))
  }

  /** Every aggregate. */
  list(): Promise<Aggregate[]> { return this.load(this.c.db) }

  /** One aggregate, or Nova's 404. */
  async get(id: number, db: Db = this.c.db): Promise<Aggregate> {
    const [a] = await this.load(db, [id])
    if (!a) throw notFound(id)
    return a
  }

  /** Nova's is_safe_to_update_az: an AZ must be non-empty and agree with the hosts' other AZ aggregates. */
  private async checkAz(db: Db, agg: Aggregate, az: string | null | undefined, hosts: string[], fail: (reason: string) => CloudError): Promise<void> {
    if (az === undefined) return
    if (!az) throw fail(`Aggregate ${agg.row.name} does not support empty named availability zone`)
    if (!hosts.length) return
    const others = await db.selectFrom('aggregate_hosts as h')
      .innerJoin('aggregate_metadata as m', 'm.aggregate_id', 'h.aggregate_id')
      .select(['m.value', 'h.aggregate_id']).where('h.host', 'in', hosts).where('m.key', '=', AZ_KEY)
      .where('h.aggregate_id', '<>', agg.row.id).execute()
    const conflicting = [...new Set(others.map((o) => o.value).filter((v) => v !== az))]
    if (conflicting.length) {
      throw fail(`One or more hosts already in availability zone(s) [${conflicting.map((z) => `'${z}'`).join(', ')}]`)
    }
  }

  /** Creates an aggregate (with its AZ as metadata); a taken name is Nova's 409. */
  async create(name: string, az: string | null): Promise<Aggregate> {
    const now = this.now()
    try {
      const id = await this.c.db.transaction().execute(async (tx) => {
        const r = await tx.insertInto('aggregates').values({ uuid: randomUUID(), name, created_at: now, updated_at: null } as never)
          .returning('id').executeTakeFirstOrThrow()
        if (az) await tx.insertInto('aggregate_metadata').values({ aggregate_id: Number(r.id), key: AZ_KEY, value: az }).execute()
        return Number(r.id)
      })
      return this.get(id)
    } catch (e) {
      if (isUniqueViolation(e)) throw conflict(`Aggregate ${name} already exists.`)
      throw e
    }
  }

  /** Renames an aggregate and/or changes its AZ (Nova's checks: 400 on AZ conflicts, 409 on a taken name). */
  async update(id: number, u: { name?: string; availability_zone?: string | null }): Promise<Aggregate> {
    const now = this.now()
    try {
      await this.c.db.transaction().execute(async (tx) => {
        const agg = await this.get(id, tx)
        const fail = (reason: string) => badRequest(`Cannot update aggregate ${id}. Reason: ${reason}.`)
        if (u.availability_zone !== undefined && u.availability_zone !== (agg.metadata[AZ_KEY] ?? null)) {
          await this.checkAz(tx, agg, u.availability_zone, agg.hosts, fail)
          await this.refuseIfInstances(tx, agg, fail)
        }
        await tx.updateTable('aggregates').set({ ...(u.name !== undefined ? { name: u.name } : {}), updated_at: now })
          .where('id', '=', id).execute()
        if (u.availability_zone !== undefined) await this.writeMeta(tx, agg, { [AZ_KEY]: u.availability_zone })
      })
    } catch (e) {
      if (isUniqueViolation(e)) throw conflict(`Aggregate ${u.name} already exists.`)
      throw e
    }
    return this.get(id)
  }

  /** Nova refuses to move hosts that run servers to another zone. */
  private async refuseIfInstances(db: Db, agg: Aggregate, fail: (reason: string) => CloudError): Promise<void> {
    if (!agg.hosts.length) return
    const busy = await db.selectFrom('instances').select('uuid').where('host', 'in', agg.hosts).where('deleted', '=', 0)
      .executeTakeFirst()
    if (busy) throw fail('One or more hosts contain instances in this zone')
  }

  /** Applies metadata changes (null deletes a key) and re-syncs the zones of the aggregate's hosts. */
  private async writeMeta(tx: Db, agg: Aggregate, meta: Record<string, string | null>): Promise<void> {
    for (const [key, value] of Object.entries(meta)) {
      await tx.deleteFrom('aggregate_metadata').where('aggregate_id', '=', agg.row.id).where('key', '=', key).execute()
      if (value !== null) await tx.insertInto('aggregate_metadata').values({ aggregate_id: agg.row.id, key, value }).execute()
    }
    if (AZ_KEY in meta) for (const h of agg.hosts) await syncHostZone(tx, h)
  }

  /** Deletes an empty aggregate (one with hosts is Nova's 400). */
  async delete(id: number): Promise<void> {
    await this.c.db.transaction().execute(async (tx) => {
      const agg = await this.get(id, tx)
      if (agg.hosts.length) throw badRequest(`Cannot delete aggregate ${id}. Reason: Host aggregate is not empty.`)
      await tx.deleteFrom('aggregate_metadata').where('aggregate_id', '=', id).execute()
      await tx.deleteFrom('aggregates').where('id', '=', id).execute()
    })
  }

  /** Adds a compute host (404 unknown host, 409 already in it or in another AZ). */
  async addHost(id: number, host: string): Promise<Aggregate> {
    const now = this.now()
    try {
      await this.c.db.transaction().execute(async (tx) => {
        await this.requireHost(tx, host)
        const agg = await this.get(id, tx)
        if (agg.hosts.includes(host)) throw conflict(`Aggregate ${id} already has host ${host}.`)
        await this.checkAz(tx, agg, agg.metadata[AZ_KEY], [host],
          (reason) => conflict(`Cannot add host to aggregate ${id}. Reason: ${reason}.`))
        await tx.insertInto('aggregate_hosts').values({ aggregate_id: id, host }).execute()
        await tx.updateTable('aggregates').set({ updated_at: now }).where('id', '=', id).execute()
        await syncHostZone(tx, host)
      })
    } catch (e) {
      // A concurrent add of the same host lost the race on the primary key.
      if (isUniqueViolation(e)) throw conflict(`Aggregate ${id} already has host ${host}.`)
      throw e
    }
    return this.get(id)
  }

  /** Removes a host (404 when the host or the membership does not exist, with Nova's message). */
  async removeHost(id: number, host: string): Promise<Aggregate> {
    const now = this.now()
    const missing = () => new CloudError('NotFound', `Cannot remove host ${host} in aggregate ${id}`)
    await this.c.db.transaction().execute(async (tx) => {
      const svc = await tx.selectFrom('services').select('id').where('host', '=', host).where('binary', '=', COMPUTE_BINARY).executeTakeFirst()
      if (!svc) throw missing()
      const gone = await tx.deleteFrom('aggregate_hosts').where('aggregate_id', '=', id).where('host', '=', host).executeTakeFirst()
      if (!Number(gone.numDeletedRows)) throw missing()
      await tx.updateTable('aggregates').set({ updated_at: now }).where('id', '=', id).execute()
      await syncHostZone(tx, host)
    })
    return this.get(id)
  }

  /** Merges metadata (null values delete keys); an AZ change is checked as Nova does (400). */
  async setMetadata(id: number, meta: Record<string, string | null>): Promise<Aggregate> {
    const now = this.now()
    await this.c.db.transaction().execute(async (tx) => {
      const agg = await this.get(id, tx)
      const fail = (reason: string) => badRequest(`Cannot update metadata of aggregate ${id}. Reason: ${reason}.`)
      if (AZ_KEY in meta) {
        await this.checkAz(tx, agg, meta[AZ_KEY], agg.hosts, fail)
        if (meta[AZ_KEY] !== (agg.metadata[AZ_KEY] ?? null)) await this.refuseIfInstances(tx, agg, fail)
      }
      await this.writeMeta(tx, agg, meta)
      await tx.updateTable('aggregates').set({ updated_at: now }).where('id', '=', id).execute()
    })
    return this.get(id)
  }

  /** Nova's ComputeHostNotFound (404) unless a compute service runs on `host`. */
  private async requireHost(db: Db, host: string): Promise<void> {
    const svc = await db.selectFrom('services').select('id').where('host', '=', host).where('binary', '=', COMPUTE_BINARY).executeTakeFirst()
    if (!svc) throw new CloudError('NotFound', `Compute host ${host} could not be found.`)
  }
}
