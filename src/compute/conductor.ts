import { hostname } from 'node:os'
import type { Transaction } from 'kysely'
import type { ComputeCtx } from './context.ts'
import { bumpHost, json, latestAction, notify, recordEvent, recordFault } from './instances.ts'
import { release } from './placement.ts'
import { NO_VALID_HOST, type ScheduleResult, Scheduler, type Selection } from './scheduler.ts'
import type { ComputeSchema, InstanceRow } from './schema.ts'

// The conductor (docs/compute.md "A server's state"): a loop in the controller that takes
// servers the API created (building/scheduling, no host), schedules each request (the servers
// sharing a reservation_id), and hands them to their hosts — host, node and task_state
// 'spawning', bumping the host's watch revision — or puts them in ERROR with Nova's NoValidHost
// fault. Woken by the API (`wake()`) and every 2 s. A second controller process on the same
// PostgreSQL may run its own loop: claims are generation-guarded and the host is assigned with
// `WHERE host IS NULL`, so a server is placed once.

/** The event the conductor records on a server's `create` action. */
export const SCHEDULE_EVENT = 'conductor_schedule_and_build_instances'

/** Placed servers handed to their hosts per transaction. */
const ASSIGN_CHUNK = 200

/** Options of the conductor loop. */
export interface ConductorOptions {
  /** How often the loop looks for work without being woken (ms, default 2000). */
  intervalMs?: number
  scheduler?: Scheduler
}

/** The conductor loop of one controller process. */
export class Conductor {
  readonly scheduler: Scheduler
  readonly #c: ComputeCtx
  readonly #intervalMs: number
  #running = false
  #woken = false
  #sleep: { timer: NodeJS.Timeout; resolve: () => void } | undefined
  #loop: Promise<void> | undefined
  /** Serialises passes: one pass at a time in this process, whoever asks. */
  #pass: Promise<unknown> = Promise.resolve()
  readonly #host = hostname()

  constructor(c: ComputeCtx, o: ConductorOptions = {}) {
    this.#c = c
    this.scheduler = o.scheduler ?? new Scheduler(c)
    this.#intervalMs = o.intervalMs ?? 2000
  }

  /** Starts the loop (idempotent). */
  start(): void {
    if (this.#running) return
    this.#running = true
    this.#loop = this.#run()
  }

  /** Asks for a pass now (after the API inserted servers, or a report asked for a reschedule). */
  wake(): void {
    this.#woken = true
    const s = this.#sleep
    if (s) { clearTimeout(s.timer); this.#sleep = undefined; s.resolve() }
  }

  /** Stops the loop and waits for the pass under way to finish. */
  async stop(): Promise<void> {
    this.#running = false
    this.wake()
    await this.#loop
    this.#loop = undefined
  }

  async #run(): Promise<void> {
    while (this.#running) {
      this.#woken = false
      try {
        await this.runOnce()
      } catch (err) {
        this.#c.log.error({ err }, 'conductor pass failed')
      }
      if (!this.#running) break
      if (this.#woken) continue
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => { this.#sleep = undefined; resolve() }, this.#intervalMs)
        timer.unref()
        this.#sleep = { timer, resolve }
      })
    }
  }

  /** One pass: schedules every server waiting for a host. Returns how many it placed or failed. */
  runOnce(): Promise<number> {
    const p = this.#pass.then(() => this.#passOnce())
    this.#pass = p.catch(() => undefined)
    return p
  }

  async #passOnce(): Promise<number> {
    const rows = await this.#c.db.selectFrom('instances').selectAll()
      .where('host', 'is', null).where('vm_state', '=', 'building').where('deleted', '=', 0).where('task_state', '=', 'scheduling')
      .orderBy('created_at').orderBy('reservation_id').orderBy('launch_index').execute()
    const requests = new Map<string, InstanceRow[]>()
    for (const r of rows) {
      const list = requests.get(r.reservation_id)
      if (list) list.push(r)
      else requests.set(r.reservation_id, [r])
    }
    let done = 0
    let first = true
    const placed: Selection[] = []
    for (const batch of requests.values()) {
      const sys = json<Record<string, unknown>>(batch[0]!.system_metadata, {})
      const min = Number(sys.min_count)
      // One refresh of the host view per pass; the requests after the first see its claims.
      const result = await this.scheduler.schedule(batch, Number.isInteger(min) && min >= 1 ? min : batch.length, { fresh: first })
      first = false
      placed.push(...result.placed)
      done += await this.#fail(result)
      // Hand the placed ones over in chunks, so agents start while the rest is scheduled.
      if (placed.length >= ASSIGN_CHUNK) done += await this.#assign(placed.splice(0))
    }
    if (placed.length) done += await this.#assign(placed)
    return done
  }

  /**
   * Gives placed servers their hosts: one transaction for the lot (each row guarded by
   * `host IS NULL`, rows taken in uuid order and host revisions after them, the same order
   * as the API and the report handler, so PostgreSQL never finds a lock cycle), one revision
   * bump per host, and the scheduling events. A batch that fails is retried one server at a
   * time, so one bad row cannot hold back the others.
   */
  async #assign(placed: Selection[]): Promise<number> {
    const c = this.#c
    const sorted = [...placed].sort((a, b) => (a.row.uuid < b.row.uuid ? -1 : a.row.uuid > b.row.uuid ? 1 : 0))
    let assigned: Selection[] | undefined
    if (sorted.length > 1) {
      assigned = await c.db.transaction().execute((tx) => this.#assignIn(tx, sorted)).catch((err: unknown) => {
        c.log.warn({ err, servers: sorted.length }, 'assigning hosts in one batch failed; one at a time')
        return undefined
      })
    }
    if (!assigned) {
      assigned = []
      for (const p of sorted) {
        const one = await c.db.transaction().execute((tx) => this.#assignIn(tx, [p])).catch((err: unknown) => {
          c.log.error({ err, instance: p.row.uuid }, 'assigning a host failed')
          return []
        })
        assigned.push(...one)
      }
    }
    const ok = new Set(assigned.map((p) => p.row.uuid))
    for (const p of sorted) {
      if (ok.has(p.row.uuid)) continue
      // Deleted meanwhile, or placed by another controller: give the room back.
      await release(c.db, p.row.uuid, p.rpUuid)
      this.scheduler.released(p)
    }
    for (const host of new Set(assigned.map((p) => p.host))) notify(c, host)
    for (const p of assigned) c.log.debug({ instance: p.row.uuid, host: p.host }, 'scheduled')
    return assigned.length
  }

  /** The writes of #assign inside `tx`; answers the servers that got their host. */
  async #assignIn(tx: Transaction<ComputeSchema>, sorted: Selection[]): Promise<Selection[]> {
    const c = this.#c
    const now = new Date(c.clock.now()).toISOString()
    const done: Selection[] = []
    for (const p of sorted) {
      const r = await tx.updateTable('instances').set({ host: p.host, node: p.node, task_state: 'spawning', updated_at: now })
        .where('uuid', '=', p.row.uuid).where('host', 'is', null).where('deleted', '=', 0).where('task_state', '=', 'scheduling')
        .executeTakeFirst()
      if (Number(r.numUpdatedRows) === 1) done.push(p)
    }
    if (!done.length) return done
    for (const host of [...new Set(done.map((p) => p.host))].sort()) await bumpHost(tx, host)
    // The create actions (newest per server) and their scheduling events, in set-wise statements.
    const uuids = done.map((p) => p.row.uuid)
    const actions: number[] = []
    for (let i = 0; i < uuids.length; i += 500) {
      const rows = await tx.selectFrom('instance_actions').select(['uuid', (eb) => eb.fn.max('id').as('id')])
        .where('uuid', 'in', uuids.slice(i, i + 500)).where('action', '=', 'create').groupBy('uuid').execute()
      actions.push(...rows.map((a) => Number(a.id)))
    }
    if (actions.length) {
      await tx.insertInto('instance_action_events').values(actions.map((id) => ({
        action_id: id, event: SCHEDULE_EVENT, start_time: now, finish_time: now, result: 'Success', traceback: null,
        host: this.#host, details: null,
      })) as never).execute()
      await tx.updateTable('instance_actions').set({ updated_at: now, finish_time: now }).where('id', 'in', actions).execute()
    }
    return done
  }

  /** Puts the servers of a request that found no host in ERROR with NoValidHost. */
  async #fail(result: ScheduleResult): Promise<number> {
    const c = this.#c
    let n = 0
    for (const f of result.failed) {
      const now = new Date(c.clock.now()).toISOString()
      const failed = await c.db.transaction().execute(async (tx) => {
        const r = await tx.updateTable('instances').set({ vm_state: 'error', task_state: null, updated_at: now })
          .where('uuid', '=', f.row.uuid).where('host', 'is', null).where('deleted', '=', 0).where('task_state', '=', 'scheduling')
          .executeTakeFirst()
        if (Number(r.numUpdatedRows) !== 1) return false
        const details = `NoValidHost: ${f.reason}`
        await recordFault(tx, c, { uuid: f.row.uuid, code: 500, message: NO_VALID_HOST, details, host: null })
        const action = await latestAction(tx, f.row.uuid, 'create')
        if (action !== undefined) {
          await recordEvent(tx, c, { actionId: action, event: SCHEDULE_EVENT, host: this.#host, result: 'Error', traceback: details })
        }
        return true
      })
      if (failed) {
        n++
        c.log.info({ instance: f.row.uuid, reason: f.reason }, 'no valid host')
      }
    }
    return n
  }
}
