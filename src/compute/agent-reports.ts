import { conflict } from '../core/errors.ts'
import type { ComputeCtx } from './context.ts'
import {
  type PendingOp, bumpHost, instanceNotFound, json, latestAction, notify, recordEvent, recordFault,
} from './instances.ts'
import { release } from './placement.ts'
import type { InstanceRow } from './schema.ts'
import { PowerState, type PowerStateName } from './virt/driver.ts'

// What the controller does with an agent's report on a server (docs/compute.md "Agent API",
// POST …/instances/{uuid}/report): observed power state and addresses, results of one-shot
// ops, faults (reschedule or ERROR), deletion, and vm_state/task_state once the agent has
// applied the desired generation. One transaction per report; the server's row is locked
// first so a concurrent API change waits for it (or the report sees the change).

/** A report as the agent sends it. */
export interface AgentReport {
  host: string
  /** The desired generation the agent worked on. */
  gen: number
  power_state: PowerStateName
  op?: { id: string; result: 'ok' | 'error'; message?: string }
  fault?: { message: string; details?: string; reschedule?: boolean }
  addresses?: Record<string, unknown>
  deleted?: true
  launched?: true
}

/** What the report left: the server's states after it. */
export interface ReportResult {
  uuid: string; vm_state: string; task_state: string | null; power_state: number
  desired_gen: number; applied_gen: number; deleted: boolean
}

/** Build attempts per server, the first included (Nova's scheduler max_attempts). */
export const MAX_BUILD_ATTEMPTS = 3

/** vm_state once the agent has made desired_power true. */
const VM_STATE: Record<string, string> = { running: 'active', shutdown: 'stopped', paused: 'paused', suspended: 'suspended' }

/** The action and compute event a task_state belongs to (recorded when the agent has done it). */
const TASK_EVENT: Record<string, [string, string]> = {
  spawning: ['create', 'compute__do_build_and_run_instance'],
  scheduling: ['create', 'compute__do_build_and_run_instance'],
  'powering-off': ['stop', 'compute_stop_instance'],
  'powering-on': ['start', 'compute_start_instance'],
  pausing: ['pause', 'compute_pause_instance'],
  unpausing: ['unpause', 'compute_unpause_instance'],
  suspending: ['suspend', 'compute_suspend_instance'],
  resuming: ['resume', 'compute_resume_instance'],
}

/** The action and compute event of each one-shot op; `fatal`: a failure leaves the server in ERROR (as Nova). */
const OP_EVENT: Record<PendingOp['kind'], { action: string; event: string; fatal: boolean }> = {
  reboot: { action: 'reboot', event: 'compute_reboot_instance', fatal: true },
  snapshot: { action: 'createImage', event: 'compute_snapshot_instance', fatal: false },
  rebuild: { action: 'rebuild', event: 'compute_rebuild_instance', fatal: true },
  resize: { action: 'resize', event: 'compute_resize_instance', fatal: true },
  confirm_resize: { action: 'confirmResize', event: 'compute_confirm_resize', fatal: false },
  revert_resize: { action: 'revertResize', event: 'compute_revert_resize', fatal: true },
}

/**
 * Applies an agent's report on server `uuid`. 404 for an unknown (or already deleted) server,
 * 409 when the reporting host is not the server's host or the generation is ahead of the
 * desired one. A report for an older generation only updates power_state, addresses and op
 * results. Wakes the agents' watch and, after a reschedule, the conductor.
 */
export async function handleReport(c: ComputeCtx, uuid: string, r: AgentReport): Promise<ReportResult> {
  const now = new Date(c.clock.now()).toISOString()
  let host: string | null = null
  let wake = false
  const out = await c.db.transaction().execute(async (tx) => {
    // A no-op update takes the row lock on PostgreSQL before anything is read.
    await tx.updateTable('instances').set((eb) => ({ deleted: eb.ref('deleted') })).where('uuid', '=', uuid).execute()
    const row = await tx.selectFrom('instances').selectAll().where('uuid', '=', uuid).executeTakeFirst()
    if (!row) throw instanceNotFound(uuid)
    if (Number(row.deleted)) {
      if (r.deleted) return resultOf(row)   // a repeated "deleted" report
      throw instanceNotFound(uuid)
    }
    if (row.host !== r.host) {
      throw conflict(`Instance ${uuid} is not on host ${r.host}${row.host ? ` (its host is ${row.host})` : ''}.`)
    }
    const desiredGen = Number(row.desired_gen)
    if (r.gen > desiredGen) throw conflict(`Generation ${r.gen} of instance ${uuid} is ahead of its desired generation ${desiredGen}.`)
    const current = r.gen === desiredGen
    const patch: Partial<InstanceRow> = { power_state: PowerState[r.power_state] }
    if (r.addresses !== undefined) patch.addresses = JSON.stringify(r.addresses)
    let visible = false   // changed something the agents' watch list shows: bump the host

    const event = async (action: string, name: string, result: 'Success' | 'Error', traceback?: string) => {
      const id = await latestAction(tx, uuid, action)
      if (id !== undefined) await recordEvent(tx, c, { actionId: id, event: name, host: row.host, result, traceback })
    }

    // Deletion: the agent destroyed the guest the API asked it to delete.
    if (r.deleted && row.desired_power === 'deleted') {
      Object.assign(patch, { deleted: 1, vm_state: 'deleted', task_state: null, deleted_at: now, terminated_at: now, updated_at: now })
      await release(tx, uuid)
      await tx.deleteFrom('server_group_members').where('instance_uuid', '=', uuid).execute()
      await event('delete', 'compute_terminate_instance', 'Success')
      await apply(tx, uuid, patch)
      await bumpHost(tx, row.host)
      host = row.host
      return resultOf({ ...row, ...patch })
    }

    // The result of the pending one-shot op (matched by id: a result for an older op is dropped).
    const pending = json<PendingOp | null>(row.pending_op, null)
    let opFailed = false
    let resized = false
    let confirmed = false
    if (r.op && pending && pending.id === r.op.id) {
      const spec = OP_EVENT[pending.kind]
      patch.pending_op = null
      visible = true
      if (r.op.result === 'ok') {
        await event(spec.action, spec.event, 'Success')
        resized = pending.kind === 'resize'
        // Nova's confirmResize sets no task_state, yet ends VERIFY_RESIZE.
        confirmed = pending.kind === 'confirm_resize'
      } else {
        opFailed = true
        const message = r.op.message || `${spec.event} failed`
        await event(spec.action, spec.event, 'Error', message)
        await recordFault(tx, c, { uuid, code: 500, message, host: row.host })
        patch.task_state = null
        if (spec.fatal) patch.vm_state = 'error'
        patch.applied_gen = Math.max(Number(row.applied_gen), r.gen)
      }
    }

    if (r.fault && current) {
      visible = true
      const f = await faultOf(c, tx, row, r, patch, event)
      wake = f.rescheduled
    } else if (current && !opFailed && Number(row.applied_gen) < r.gen && VM_STATE[row.desired_power] === stateFor(r.power_state, row.desired_power)) {
      // The agent has applied the desired generation. Nova's states follow only when that
      // generation started a transition (an action sets task_state, a create is building): a
      // generation without one (os-resetState, which clears task_state and sets vm_state
      // itself) keeps the vm_state the API wrote, so a server reset to ERROR stays in ERROR
      // until an action changes its desired state. A confirmed resize is a transition too.
      const transition = row.task_state !== null || row.vm_state === 'building' || resized || confirmed
      if (transition) {
        const te = row.task_state ? TASK_EVENT[row.task_state] : undefined
        if (te && !r.op) await event(te[0], te[1], 'Success')
        Object.assign(patch, { vm_state: resized ? 'resized' : VM_STATE[row.desired_power], task_state: null })
      }
      if (!row.launched_at || r.launched) patch.launched_at = now
      patch.applied_gen = r.gen
      visible = true
    }
    if (visible) patch.updated_at = now
    await apply(tx, uuid, patch)
    if (visible) {
      await bumpHost(tx, row.host)
      host = row.host
    }
    return resultOf({ ...row, ...patch })
  })
  notify(c, host)
  if (wake) c.conductor?.wake()
  return out
}

/** The observed power state that satisfies desired_power, mapped to the vm_state key (or null). */
function stateFor(observed: PowerStateName, desired: string): string | null {
  const want: Record<string, PowerStateName> = { running: 'running', shutdown: 'shutdown', paused: 'paused', suspended: 'suspended' }
  return want[desired] === observed ? VM_STATE[desired]! : null
}

async function apply(tx: Parameters<typeof release>[0], uuid: string, patch: Partial<InstanceRow>): Promise<void> {
  await tx.updateTable('instances').set(patch as never).where('uuid', '=', uuid).execute()
}

function resultOf(row: InstanceRow): ReportResult {
  return {
    uuid: row.uuid, vm_state: row.vm_state, task_state: row.task_state, power_state: Number(row.power_state),
    desired_gen: Number(row.desired_gen), applied_gen: Number(row.applied_gen), deleted: Boolean(Number(row.deleted)),
  }
}

/**
 * A fault on the current generation. A failed build gives its host back (allocation released,
 * host and node cleared, as Nova does) and is rescheduled when the agent asks and attempts are
 * left; otherwise the server goes to ERROR with the fault.
 */
async function faultOf(c: ComputeCtx, tx: Parameters<typeof release>[0], row: InstanceRow, r: AgentReport,
  patch: Partial<InstanceRow>, event: (a: string, e: string, res: 'Success' | 'Error', tb?: string) => Promise<void>,
): Promise<{ rescheduled: boolean }> {
  const f = r.fault!
  const details = f.details ?? ''
  await recordFault(tx, c, { uuid: row.uuid, code: 500, message: f.message, details, host: row.host })
  patch.applied_gen = Math.max(Number(row.applied_gen), r.gen)
  if (row.vm_state !== 'building') {
    Object.assign(patch, { vm_state: 'error', task_state: null })
    return { rescheduled: false }
  }
  await event('create', 'compute__do_build_and_run_instance', 'Error', details || f.message)
  await release(tx, row.uuid)
  const sys = json<Record<string, unknown>>(row.system_metadata, {})
  const tried = Array.isArray(sys.retry_hosts) ? (sys.retry_hosts as string[]) : []
  const attempts = tried.length + 1
  Object.assign(patch, { host: null, node: null })
  if (f.reschedule && attempts < MAX_BUILD_ATTEMPTS && row.desired_power !== 'deleted') {
    sys.retry_hosts = [...tried, row.host!]
    Object.assign(patch, { task_state: 'scheduling', system_metadata: JSON.stringify(sys), applied_gen: row.applied_gen })
    return { rescheduled: true }
  }
  if (f.reschedule) {
    await recordFault(tx, c, {
      uuid: row.uuid, code: 500, host: row.host, details,
      message: `Exceeded maximum number of retries. Exceeded max scheduling attempts ${MAX_BUILD_ATTEMPTS} for instance ${row.uuid}. Last exception: ${f.message}`,
    })
  }
  Object.assign(patch, { vm_state: 'error', task_state: null })
  return { rescheduled: false }
}
