import { EventEmitter } from 'node:events'
import type { Kysely, Transaction } from 'kysely'
import { CloudError } from '../core/errors.ts'
import type { ComputeCtx } from './context.ts'
import type { ComputeSchema, InstanceRow } from './schema.ts'

// The shared core of servers: loading a server, changing its desired state, and the records
// every change leaves (instance actions, events, faults, the host's watch revision). The API,
// the conductor and the agents' report handler all go through here, so that the rule "a
// change to a server on a host bumps that host's revision in the same transaction" holds
// everywhere (docs/compute.md).

type Db = Kysely<ComputeSchema> | Transaction<ComputeSchema>

/** What the agent must make true of a server. */
export type DesiredPower = 'running' | 'shutdown' | 'paused' | 'suspended' | 'deleted'

/** A one-shot operation for the agent (docs/compute.md, "Pending ops"). `id` is unique per op. */
export type PendingOp =
  | { id: string; kind: 'reboot'; type: 'SOFT' | 'HARD' }
  | { id: string; kind: 'snapshot'; imageId: string }
  | { id: string; kind: 'rebuild'; imageRef: string }
  | { id: string; kind: 'resize'; flavor: FlavorSnapshot }
  | { id: string; kind: 'confirm_resize' }
  | { id: string; kind: 'revert_resize'; flavor: FlavorSnapshot }

/** The flavor a server was built with, as embedded in its row (Nova embeds it too). */
export interface FlavorSnapshot {
  flavorid: string; name: string; vcpus: number; memory_mb: number; root_gb: number
  ephemeral_gb: number; swap: number; rxtx_factor: number; is_public: boolean
  description: string | null; extra_specs: Record<string, string>
}

/** Emits `host:<name>` whenever a host's revision moves (the agents' long-poll waits on it). */
export class HostWatch extends EventEmitter {
  constructor() { super(); this.setMaxListeners(0) }
  /** Resolves when `host` changes or after `ms`, whichever is first. */
  wait(host: string, ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => { clearTimeout(t); this.off(`host:${host}`, done); resolve() }
      const t = setTimeout(done, ms)
      this.on(`host:${host}`, done)
    })
  }
}

/** The error Nova gives for a server that doesn't exist or isn't the caller's. */
export function instanceNotFound(uuid: string): CloudError {
  return new CloudError('NotFound', `Instance ${uuid} could not be found.`)
}

/** Parses a JSON column. */
export function json<T>(s: string | null | undefined, fallback: T): T {
  if (s === null || s === undefined || s === '') return fallback
  return JSON.parse(s) as T
}

/** A live (not deleted) server by uuid, or 404. Scoping to the caller's project is the caller's job. */
export async function getInstance(db: Db, uuid: string, opts: { withDeleted?: boolean } = {}): Promise<InstanceRow> {
  let q = db.selectFrom('instances').selectAll().where('uuid', '=', uuid)
  if (!opts.withDeleted) q = q.where('deleted', '=', 0)
  const row = await q.executeTakeFirst()
  if (!row) throw instanceNotFound(uuid)
  return row
}

/** Moves a host's watch revision; call inside the transaction that changed the host's servers. */
export async function bumpHost(db: Db, host: string | null): Promise<void> {
  if (!host) return
  const r = await db.updateTable('host_revisions').set((eb) => ({ revision: eb('revision', '+', 1) }))
    .where('host', '=', host).executeTakeFirst()
  if (Number(r.numUpdatedRows) === 0) await db.insertInto('host_revisions').values({ host, revision: 1 }).execute()
}

/** A host's current revision (0 before any change). */
export async function hostRevision(db: Db, host: string): Promise<number> {
  const r = await db.selectFrom('host_revisions').select('revision').where('host', '=', host).executeTakeFirst()
  return r ? Number(r.revision) : 0
}

/**
 * Changes a server's desired state: bumps `desired_gen` and the host's revision, with any other
 * column changes (task_state…) in the same update. Returns the new generation. Run it inside a
 * transaction together with the action record; call `notify(c, host)` after the commit.
 */
export async function setDesired(db: Db, row: InstanceRow,
  patch: Partial<Pick<InstanceRow, 'desired_power' | 'pending_op' | 'task_state' | 'vm_state' | 'updated_at'>> & Record<string, unknown>,
): Promise<number> {
  const gen = Number(row.desired_gen) + 1
  await db.updateTable('instances').set({ ...patch, desired_gen: gen } as never).where('uuid', '=', row.uuid).execute()
  await bumpHost(db, row.host)
  return gen
}

/** Wakes the agents' long-polls after a commit that bumped `host`. */
export function notify(c: ComputeCtx, host: string | null): void {
  if (host) c.watch.emit(`host:${host}`)
}

/** Starts an instance action (os-instance-actions) and returns its id. */
export async function recordAction(db: Db, c: ComputeCtx, a: {
  uuid: string; action: string; requestId: string; userId: string; projectId: string; message?: string
}): Promise<number> {
  const now = new Date(c.clock.now()).toISOString()
  const r = await db.insertInto('instance_actions').values({
    uuid: a.uuid, action: a.action, request_id: a.requestId, user_id: a.userId, project_id: a.projectId,
    start_time: now, finish_time: null, message: a.message ?? null, updated_at: now,
  } as never).returning('id').executeTakeFirstOrThrow()
  return Number(r.id)
}

/** The newest action of a server with that name (the one an agent's event belongs to). */
export async function latestAction(db: Db, uuid: string, action: string): Promise<number | undefined> {
  const r = await db.selectFrom('instance_actions').select('id').where('uuid', '=', uuid).where('action', '=', action)
    .orderBy('id', 'desc').limit(1).executeTakeFirst()
  return r ? Number(r.id) : undefined
}

/** Records an event of an action (start and finish at once when `result` is given). */
export async function recordEvent(db: Db, c: ComputeCtx, e: {
  actionId: number; event: string; host?: string | null; result?: 'Success' | 'Error'; traceback?: string; details?: string
}): Promise<void> {
  const now = new Date(c.clock.now()).toISOString()
  await db.insertInto('instance_action_events').values({
    action_id: e.actionId, event: e.event, start_time: now, finish_time: e.result ? now : null,
    result: e.result ?? null, traceback: e.traceback ?? null, host: e.host ?? null, details: e.details ?? null,
  } as never).execute()
  await db.updateTable('instance_actions').set({ updated_at: now, ...(e.result === 'Error' ? { message: 'Error' } : {}) })
    .where('id', '=', e.actionId).execute()
  if (e.result) await db.updateTable('instance_actions').set({ finish_time: now }).where('id', '=', e.actionId).execute()
}

/** Records a fault on a server (shown as `fault` while it is in ERROR). */
export async function recordFault(db: Db, c: ComputeCtx, f: {
  uuid: string; code?: number; message: string; details?: string; host?: string | null
}): Promise<void> {
  await db.insertInto('instance_faults').values({
    uuid: f.uuid, code: f.code ?? 500, message: f.message.slice(0, 255), details: f.details ?? '',
    host: f.host ?? null, created_at: new Date(c.clock.now()).toISOString(),
  } as never).execute()
}
