import type { Kysely, Transaction } from 'kysely'
import type { FlavorSnapshot } from './instances.ts'
import type { ComputeSchema } from './schema.ts'

// Placement (the part of OpenStack Placement Nova needs): resource providers (one per compute
// node), their inventories, and the allocations of consumers (servers). Claims are safe under
// concurrency on SQLite and PostgreSQL without table locks: every claim locks its consumer with
// a conditional generation update, re-checks the provider's usage, writes the allocations and
// bumps the provider's generation with `WHERE generation = :seen`; a claim that loses a race
// rolls back and retries against fresh numbers (docs/compute.md "Scheduling").
//
// Lock order everywhere (claim and release): consumer row → allocations → provider row, so two
// transactions on PostgreSQL never wait on each other in a cycle.

type Db = Kysely<ComputeSchema> | Transaction<ComputeSchema>

/** The resource classes a server consumes. */
export type ResourceClass = 'VCPU' | 'MEMORY_MB' | 'DISK_GB'
/** Amounts per resource class (classes asked for 0 are not claimed, as in Placement). */
export type Resources = Partial<Record<ResourceClass, number>>

/** One inventory as given to setInventory (Placement's defaults for the optional fields). */
export interface InventoryInput {
  total: number; reserved?: number; min_unit?: number; max_unit?: number; step_size?: number; allocation_ratio?: number
}

/** A provider's inventory of one class with what is used of it. */
export interface ClassUsage {
  total: number; reserved: number; min_unit: number; max_unit: number; step_size: number; allocation_ratio: number
  /** (total − reserved) × allocation_ratio, rounded down. */
  capacity: number
  used: number
  free: number
}

/** The owner of a claim: a server (uuid) and its project and user. */
export interface Consumer { uuid: string; project_id: string; user_id: string }

/**
 * What a claim did: `claimed`; `no-room` (the provider lacks a class or capacity, or an amount
 * breaks min_unit/max_unit/step_size); `consumer-taken` (the consumer already holds allocations,
 * e.g. another conductor claimed it first); `no-provider`.
 */
export type ClaimResult = 'claimed' | 'no-room' | 'consumer-taken' | 'no-provider'

/** What a server of this flavor consumes (Nova: root disk only when it boots from an image). */
export function resourcesOf(flavor: Pick<FlavorSnapshot, 'vcpus' | 'memory_mb' | 'root_gb' | 'ephemeral_gb' | 'swap'>,
  bootFromVolume = false): Resources {
  return {
    VCPU: flavor.vcpus,
    MEMORY_MB: flavor.memory_mb,
    DISK_GB: (bootFromVolume ? 0 : flavor.root_gb) + flavor.ephemeral_gb + Math.ceil(flavor.swap / 1024),
  }
}

/** Capacity as Placement computes it. */
export function capacityOf(inv: { total: number; reserved: number; allocation_ratio: number }): number {
  return Math.floor((Number(inv.total) - Number(inv.reserved)) * Number(inv.allocation_ratio))
}

/**
 * Creates or updates a provider and replaces its inventories. The generation moves only when
 * something changed (agents repeat this every heartbeat; a needless bump would make concurrent
 * claims retry). Returns the provider's generation.
 */
export async function setInventory(db: Db, now: string, providerUuid: string, name: string,
  inventories: Record<string, InventoryInput>): Promise<number> {
  await db.insertInto('resource_providers').values({ uuid: providerUuid, name, generation: 0, created_at: now, updated_at: null })
    .onConflict((oc) => oc.column('uuid').doNothing()).execute()
  const rp = await db.selectFrom('resource_providers').select(['name', 'generation']).where('uuid', '=', providerUuid).executeTakeFirstOrThrow()
  const current = await db.selectFrom('inventories').selectAll().where('rp_uuid', '=', providerUuid).execute()
  const wanted = Object.entries(inventories).map(([rc, i]) => ({
    rp_uuid: providerUuid, resource_class: rc, total: i.total, reserved: i.reserved ?? 0, min_unit: i.min_unit ?? 1,
    max_unit: i.max_unit ?? i.total, step_size: i.step_size ?? 1, allocation_ratio: i.allocation_ratio ?? 1.0,
  }))
  const same = rp.name === name && current.length === wanted.length && wanted.every((w) => {
    const c = current.find((x) => x.resource_class === w.resource_class)
    return c !== undefined && Number(c.total) === w.total && Number(c.reserved) === w.reserved && Number(c.min_unit) === w.min_unit
      && Number(c.max_unit) === w.max_unit && Number(c.step_size) === w.step_size && Number(c.allocation_ratio) === w.allocation_ratio
  })
  if (same) return Number(rp.generation)
  await db.deleteFrom('inventories').where('rp_uuid', '=', providerUuid).execute()
  if (wanted.length) await db.insertInto('inventories').values(wanted).execute()
  await db.updateTable('resource_providers').set((eb) => ({ name, generation: eb('generation', '+', 1), updated_at: now }))
    .where('uuid', '=', providerUuid).execute()
  return Number(rp.generation) + 1
}

/** Inventories of a provider with their usage, by resource class ({} for an unknown provider). */
export async function providerUsage(db: Db, providerUuid: string): Promise<Record<string, ClassUsage>> {
  const invs = await db.selectFrom('inventories').selectAll().where('rp_uuid', '=', providerUuid).execute()
  const used = await usedOf(db, providerUuid)
  const out: Record<string, ClassUsage> = {}
  for (const i of invs) {
    const capacity = capacityOf(i)
    const u = used[i.resource_class] ?? 0
    out[i.resource_class] = {
      total: Number(i.total), reserved: Number(i.reserved), min_unit: Number(i.min_unit), max_unit: Number(i.max_unit),
      step_size: Number(i.step_size), allocation_ratio: Number(i.allocation_ratio), capacity, used: u, free: capacity - u,
    }
  }
  return out
}

/** Every provider's inventories with usage, in two queries (the scheduler reads all hosts at once). */
export async function allUsage(db: Db): Promise<Map<string, Record<string, ClassUsage>>> {
  const invs = await db.selectFrom('inventories').selectAll().execute()
  const used = await db.selectFrom('allocations').select(['rp_uuid', 'resource_class', (eb) => eb.fn.sum<number>('used').as('used')])
    .groupBy(['rp_uuid', 'resource_class']).execute()
  const u = new Map(used.map((r) => [`${r.rp_uuid} ${r.resource_class}`, Number(r.used)]))
  const out = new Map<string, Record<string, ClassUsage>>()
  for (const i of invs) {
    const capacity = capacityOf(i)
    const n = u.get(`${i.rp_uuid} ${i.resource_class}`) ?? 0
    let m = out.get(i.rp_uuid)
    if (!m) { m = {}; out.set(i.rp_uuid, m) }
    m[i.resource_class] = {
      total: Number(i.total), reserved: Number(i.reserved), min_unit: Number(i.min_unit), max_unit: Number(i.max_unit),
      step_size: Number(i.step_size), allocation_ratio: Number(i.allocation_ratio), capacity, used: n, free: capacity - n,
    }
  }
  return out
}

async function usedOf(db: Db, providerUuid: string): Promise<Record<string, number>> {
  const rows = await db.selectFrom('allocations').select(['resource_class', (eb) => eb.fn.sum<number>('used').as('used')])
    .where('rp_uuid', '=', providerUuid).groupBy('resource_class').execute()
  return Object.fromEntries(rows.map((r) => [r.resource_class, Number(r.used)]))
}

/** Why `resources` do not fit in `usage`, or null when they do. */
export function unfit(usage: Record<string, ClassUsage>, resources: Resources): string | null {
  for (const [rc, amount] of Object.entries(resources) as Array<[string, number]>) {
    if (!amount) continue
    const u = usage[rc]
    if (!u) return `no ${rc} inventory`
    if (amount < u.min_unit || amount > u.max_unit || amount % u.step_size !== 0) return `${rc} ${amount} outside min/max/step`
    if (u.used + amount > u.capacity) return `${rc}: ${u.free} free, ${amount} asked`
  }
  return null
}

/** A lost race on a generation: the transaction rolls back and the claim is tried again. */
class GenerationConflict extends Error {}
/** A claim that ends without allocating: thrown to roll back the consumer row it may have made. */
class Outcome extends Error { constructor(readonly result: ClaimResult) { super(result) } }

/** PostgreSQL's serialization and deadlock failures: safe to retry the whole claim. */
function retryable(err: unknown): boolean {
  const code = (err as { code?: string })?.code
  return err instanceof GenerationConflict || code === '40001' || code === '40P01' || code === 'SQLITE_BUSY'
}

const MAX_TRIES = 50

/**
 * Claims `resources` on a provider for a consumer, atomically. A consumer holds allocations
 * from one claim at a time: release it before claiming again (reschedule), or pass
 * `replace` to swap what it holds for the new amounts in the same transaction (a resize on
 * its host: its own current usage does not count against the new one).
 */
export async function claim(db: Kysely<ComputeSchema>, consumer: Consumer, providerUuid: string, resources: Resources,
  o: { replace?: boolean } = {}): Promise<ClaimResult> {
  const wanted = (Object.entries(resources) as Array<[string, number]>).filter(([, n]) => n > 0)
  for (let attempt = 0; ; attempt++) {
    try {
      return await db.transaction().execute(async (tx) => {
        // Lock the consumer first (same order as release): create it if new, then a conditional
        // bump that makes a concurrent claim of the same consumer fail and retry.
        await tx.insertInto('consumers').values({ uuid: consumer.uuid, project_id: consumer.project_id, user_id: consumer.user_id, generation: 0 }).onConflict((oc) => oc.column('uuid').doNothing()).execute()
        const cons = await tx.selectFrom('consumers').select('generation').where('uuid', '=', consumer.uuid).executeTakeFirst()
        if (!cons) throw new GenerationConflict()
        const locked = await tx.updateTable('consumers').set({ generation: Number(cons.generation) + 1 })
          .where('uuid', '=', consumer.uuid).where('generation', '=', cons.generation).executeTakeFirst()
        if (Number(locked.numUpdatedRows) !== 1) throw new GenerationConflict()
        const held = await tx.selectFrom('allocations').select('rp_uuid').where('consumer_uuid', '=', consumer.uuid).limit(1).executeTakeFirst()
        if (held && !o.replace) throw new Outcome('consumer-taken')
        if (held) await tx.deleteFrom('allocations').where('consumer_uuid', '=', consumer.uuid).execute()
        const rp = await tx.selectFrom('resource_providers').select('generation').where('uuid', '=', providerUuid).executeTakeFirst()
        if (!rp) throw new Outcome('no-provider')
        // Usage is read after the generation: whatever committed in between is counted, and
        // anything committing later moves the generation and fails our conditional update.
        if (unfit(await providerUsage(tx, providerUuid), resources) !== null) throw new Outcome('no-room')
        if (wanted.length) {
          await tx.insertInto('allocations').values(wanted.map(([rc, used]) => ({
            consumer_uuid: consumer.uuid, rp_uuid: providerUuid, resource_class: rc, used,
          }))).execute()
        }
        const bumped = await tx.updateTable('resource_providers').set({ generation: Number(rp.generation) + 1 })
          .where('uuid', '=', providerUuid).where('generation', '=', rp.generation).executeTakeFirst()
        if (Number(bumped.numUpdatedRows) !== 1) throw new GenerationConflict()
        return 'claimed' as const
      })
    } catch (err) {
      if (err instanceof Outcome) return err.result
      if (!retryable(err) || attempt >= MAX_TRIES) throw err
      await new Promise((r) => setTimeout(r, Math.random() * 2 * Math.min(attempt + 1, 10)))
    }
  }
}

/**
 * Releases a consumer's allocations (on one provider only when `providerUuid` is given) and,
 * when it holds none any more, the consumer itself. Returns the providers it had used. Works
 * inside the caller's transaction (the report handler releases together with its updates).
 */
export async function release(db: Db, consumerUuid: string, providerUuid?: string): Promise<string[]> {
  // Lock order: consumer, allocations, providers.
  const locked = await db.updateTable('consumers').set((eb) => ({ generation: eb('generation', '+', 1) }))
    .where('uuid', '=', consumerUuid).executeTakeFirst()
  if (Number(locked.numUpdatedRows) === 0) return []
  let q = db.selectFrom('allocations').select('rp_uuid').distinct().where('consumer_uuid', '=', consumerUuid)
  if (providerUuid) q = q.where('rp_uuid', '=', providerUuid)
  const rps = (await q.execute()).map((r) => r.rp_uuid).sort()
  let del = db.deleteFrom('allocations').where('consumer_uuid', '=', consumerUuid)
  if (providerUuid) del = del.where('rp_uuid', '=', providerUuid)
  await del.execute()
  for (const rp of rps) {
    await db.updateTable('resource_providers').set((eb) => ({ generation: eb('generation', '+', 1) })).where('uuid', '=', rp).execute()
  }
  const left = await db.selectFrom('allocations').select('rp_uuid').where('consumer_uuid', '=', consumerUuid).limit(1).executeTakeFirst()
  if (!left) await db.deleteFrom('consumers').where('uuid', '=', consumerUuid).execute()
  return rps
}

/** A consumer's allocations: provider → class → amount. */
export async function allocationsOf(db: Db, consumerUuid: string): Promise<Record<string, Record<string, number>>> {
  const rows = await db.selectFrom('allocations').selectAll().where('consumer_uuid', '=', consumerUuid).execute()
  const out: Record<string, Record<string, number>> = {}
  for (const r of rows) (out[r.rp_uuid] ??= {})[r.resource_class] = Number(r.used)
  return out
}

/** What a project's consumers use, by class (all providers). */
export async function usagesByProject(db: Db, projectId: string): Promise<Record<string, number>> {
  const rows = await db.selectFrom('allocations').innerJoin('consumers', 'consumers.uuid', 'allocations.consumer_uuid')
    .select(['allocations.resource_class as rc', (eb) => eb.fn.sum<number>('allocations.used').as('used')])
    .where('consumers.project_id', '=', projectId).groupBy('allocations.resource_class').execute()
  return Object.fromEntries(rows.map((r) => [r.rc, Number(r.used)]))
}
