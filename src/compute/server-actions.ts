import { randomUUID } from 'node:crypto'
import type { Transaction } from 'kysely'
import type { AuthContext } from '../core/auth.ts'
import { CloudError } from '../core/errors.ts'
import type { ComputeCtx } from './context.ts'
import { type PendingOp, getInstance, instanceNotFound, notify, recordAction, recordEvent, setDesired } from './instances.ts'
import type { ComputeSchema, InstanceRow } from './schema.ts'

// Server actions (nova/compute/api.py): each one checks the server's state exactly as Nova's
// @check_instance_lock / @check_instance_host / @check_instance_state do, then writes the
// desired state, task_state and pending op in one transaction with its instance action, and
// wakes the host's agent. The agent does the work; its report finishes the action
// (docs/compute.md "A server's state").

/** Who asks, as the actions need it: the token is forwarded to Glance and the agent. */
export interface Caller {
  ctx: AuthContext
  token: string
  /** The request id recorded on the instance action (X-OpenStack-Request-ID). */
  requestId: string
  isAdmin: boolean
}

/** Nova's task_states.ALLOW_REBOOT: a hard reboot may interrupt these. */
export const ALLOW_REBOOT: Array<string | null> = [null, 'rebooting', 'reboot_pending', 'reboot_started', 'resuming',
  'rebooting_hard', 'unpausing', 'pausing', 'suspending']

/** What one action requires of a server (the decorators of nova/compute/api.py). */
export interface StateRule {
  /** The name in messages and in os-instance-actions (start, stop, createImage…). */
  action: string
  /** Allowed vm_states; undefined allows any. */
  vmStates?: string[]
  /** Allowed task_states (default: none running); 'any' allows all. */
  taskStates?: Array<string | null> | 'any'
  /** @check_instance_lock: locked servers are refused to non-admins. */
  lock?: boolean
  /** @check_instance_host: the server must be on a host. */
  host?: boolean
  /** Nova's must_have_launched (default true). */
  mustHaveLaunched?: boolean
}

/** Nova's 409 for a server in the wrong state (common.raise_http_conflict_for_instance_invalid_state). */
export function invalidState(action: string, uuid: string, attr: string, state: string | null): CloudError {
  return new CloudError('Conflict', `Cannot '${action}' instance ${uuid} while it is in ${attr} ${state ?? 'None'}`)
}

/** Throws Nova's 409 when `row` may not undergo the action `rule` describes. */
export function checkState(row: InstanceRow, rule: StateRule, isAdmin: boolean): void {
  if (rule.lock && Number(row.locked) && !isAdmin) {
    throw new CloudError('Conflict', `Instance ${row.uuid} is locked`)
  }
  if (rule.host && !row.host) throw new CloudError('Conflict', `Instance ${row.uuid} is not ready`)
  if (rule.vmStates && !rule.vmStates.includes(row.vm_state)) throw invalidState(rule.action, row.uuid, 'vm_state', row.vm_state)
  const tasks = rule.taskStates ?? [null]
  if (tasks !== 'any' && !tasks.includes(row.task_state)) throw invalidState(rule.action, row.uuid, 'task_state', row.task_state)
  if ((rule.mustHaveLaunched ?? true) && !row.launched_at) throw invalidState(rule.action, row.uuid, 'launched_at', null)
}

/** The desired-state change an accepted action writes. */
export type ActionPatch = Partial<Pick<InstanceRow, 'desired_power' | 'task_state' | 'vm_state' | 'image_ref'
  | 'display_name' | 'display_description' | 'key_name' | 'key_data' | 'user_data' | 'access_ip_v4' | 'access_ip_v6'
  | 'system_metadata' | 'progress' | 'flavor'>> & { pending_op?: PendingOp | null }

/** Options of `ServerActionService.apply`. */
export interface ApplyOptions {
  /** Record an instance action with this name (default: the rule's action). */
  record?: string | false
  /** An event the API itself completes (Nova's wrap_instance_event(prefix='api')). */
  apiEvent?: string
  /** Runs inside the transaction after the state check (metadata rewrites, claims…). */
  also?: (tx: Transaction<ComputeSchema>, row: InstanceRow) => Promise<void>
}

/** A fresh pending op id. */
export function opId(): string { return randomUUID() }

/** The state machine of server actions; the API's handlers call it after validating the body. */
export class ServerActionService {
  constructor(private readonly c: ComputeCtx) {}

  /**
   * The server as the caller may see it: another project's server is 404 to non-admins, as
   * Nova's project-scoped lookup makes it. `withDeleted` for reads of deleted servers (2.21).
   */
  async load(caller: Caller, uuid: string, opts: { withDeleted?: boolean } = {}): Promise<InstanceRow> {
    const row = await getInstance(this.c.db, uuid, opts)
    if (!caller.isAdmin && row.project_id !== caller.ctx.projectId) throw instanceNotFound(uuid)
    return row
  }

  /**
   * Checks `rule` against the current row and writes `patch` in one transaction: a guarded
   * update (the row's `desired_gen` unchanged since the check) so two concurrent actions can
   * never both pass the check; then setDesired, the instance action and its API event.
   * Returns the row as written.
   */
  async apply(caller: Caller, uuid: string, rule: StateRule, patch: ActionPatch, o: ApplyOptions = {}): Promise<InstanceRow> {
    const now = new Date(this.c.clock.now()).toISOString()
    for (let attempt = 0; ; attempt++) {
      const done = await this.c.db.transaction().execute(async (tx) => {
        const row = await getInstance(tx, uuid)
        checkState(row, rule, caller.isAdmin)
        const guard = await tx.updateTable('instances').set({ updated_at: now })
          .where('uuid', '=', uuid).where('desired_gen', '=', row.desired_gen).where('deleted', '=', 0).executeTakeFirst()
        if (Number(guard.numUpdatedRows) === 0) return undefined
        if (o.also) await o.also(tx, row)
        const { pending_op, ...rest } = patch
        const write: Record<string, unknown> = { ...rest, updated_at: now }
        if (pending_op !== undefined) write.pending_op = pending_op === null ? null : JSON.stringify(pending_op)
        await setDesired(tx, row, write)
        const name = o.record === undefined ? rule.action : o.record
        if (name) {
          const actionId = await recordAction(tx, this.c, {
            uuid, action: name, requestId: caller.requestId, userId: caller.ctx.userId, projectId: caller.ctx.projectId ?? '',
          })
          if (o.apiEvent) await recordEvent(tx, this.c, { actionId, event: o.apiEvent, result: 'Success' })
        }
        return await getInstance(tx, uuid)
      })
      if (done) { notify(this.c, done.host); return done }
      // Another change won the race; check again against what it wrote.
      if (attempt >= 5) throw new CloudError('Conflict', `Instance ${uuid} is being changed by another request; try again.`)
    }
  }

  /** os-start: a stopped server runs again. */
  start(caller: Caller, uuid: string): Promise<InstanceRow> {
    return this.apply(caller, uuid, { action: 'start', vmStates: ['stopped'], lock: true, host: true },
      { desired_power: 'running', task_state: 'powering-on' })
  }

  /** os-stop. */
  stop(caller: Caller, uuid: string): Promise<InstanceRow> {
    return this.apply(caller, uuid, { action: 'stop', vmStates: ['active', 'rescued', 'error'], lock: true, host: true },
      { desired_power: 'shutdown', task_state: 'powering-off' })
  }

  /** reboot SOFT (active only) or HARD (also stopped/paused/suspended/error, and over some running tasks). */
  reboot(caller: Caller, uuid: string, type: 'SOFT' | 'HARD'): Promise<InstanceRow> {
    const rule: StateRule = type === 'SOFT'
      ? { action: 'reboot', vmStates: ['active'], lock: true, host: true }
      : { action: 'reboot', vmStates: ['active', 'stopped', 'paused', 'suspended', 'error'], taskStates: ALLOW_REBOOT, lock: true, host: true }
    return this.apply(caller, uuid, rule, {
      desired_power: 'running', task_state: type === 'SOFT' ? 'rebooting' : 'rebooting_hard',
      pending_op: { id: opId(), kind: 'reboot', type },
    })
  }

  /** pause. */
  pause(caller: Caller, uuid: string): Promise<InstanceRow> {
    return this.apply(caller, uuid, { action: 'pause', vmStates: ['active'], lock: true, host: true },
      { desired_power: 'paused', task_state: 'pausing' })
  }

  /** unpause. */
  unpause(caller: Caller, uuid: string): Promise<InstanceRow> {
    return this.apply(caller, uuid, { action: 'unpause', vmStates: ['paused'], lock: true, host: true },
      { desired_power: 'running', task_state: 'unpausing' })
  }

  /** suspend. */
  suspend(caller: Caller, uuid: string): Promise<InstanceRow> {
    return this.apply(caller, uuid, { action: 'suspend', vmStates: ['active'], lock: true, host: true },
      { desired_power: 'suspended', task_state: 'suspending' })
  }

  /** resume. */
  resume(caller: Caller, uuid: string): Promise<InstanceRow> {
    return this.apply(caller, uuid, { action: 'resume', vmStates: ['suspended'], lock: true, host: true },
      { desired_power: 'running', task_state: 'resuming' })
  }

  /**
   * lock: records who locked it ('owner' or 'admin') and why (2.73). An owner locking a locked
   * server is a no-op, as in Nova. No desired state changes, so no generation bump.
   */
  async lock(caller: Caller, row: InstanceRow, reason?: string): Promise<void> {
    const isOwner = row.project_id === caller.ctx.projectId
    if (Number(row.locked) && isOwner) return
    await this.flagLock(caller, row.uuid, 'lock', { locked: 1, locked_by: isOwner ? 'owner' : 'admin', locked_reason: reason ?? null })
  }

  /** unlock (the caller has passed the unlock_override rule when someone else locked it). */
  async unlock(caller: Caller, row: InstanceRow): Promise<void> {
    await this.flagLock(caller, row.uuid, 'unlock', { locked: 0, locked_by: null, locked_reason: null })
  }

  /** True when the caller is who locked the server (Nova's is_expected_locked_by). */
  lockedByCaller(caller: Caller, row: InstanceRow): boolean {
    const expected = row.project_id === caller.ctx.projectId ? 'owner' : 'admin'
    return !Number(row.locked) || row.locked_by === expected
  }

  private async flagLock(caller: Caller, uuid: string, action: 'lock' | 'unlock', set: Pick<InstanceRow, 'locked' | 'locked_by' | 'locked_reason'>): Promise<void> {
    const now = new Date(this.c.clock.now()).toISOString()
    await this.c.db.transaction().execute(async (tx) => {
      await tx.updateTable('instances').set({ ...set, updated_at: now }).where('uuid', '=', uuid).execute()
      const actionId = await recordAction(tx, this.c, {
        uuid, action, requestId: caller.requestId, userId: caller.ctx.userId, projectId: caller.ctx.projectId ?? '',
      })
      await recordEvent(tx, this.c, { actionId, event: `api_${action}`, result: 'Success' })
    })
  }

  /**
   * os-resetState (admin): vm_state active or error, task_state cleared and any pending op
   * dropped. Like Nova it touches no hypervisor; the generation moves so the agent reports again.
   */
  resetState(caller: Caller, uuid: string, state: 'active' | 'error'): Promise<InstanceRow> {
    return this.apply(caller, uuid, { action: 'resetState', taskStates: 'any', mustHaveLaunched: false },
      { vm_state: state, task_state: null, pending_op: null }, { record: false })
  }
}
