import { randomUUID } from 'node:crypto'
import type { Kysely } from 'kysely'
import type { ComputeCtx } from './context.ts'
import type { FlavorSnapshot } from './instances.ts'
import type { ComputeSchema, InstanceRow } from './schema.ts'
import type { ComputeHarness } from './testing.ts'

// Test helpers for the control plane (placement, scheduler, conductor, agent API): rows shaped
// as docs/compute.md says the servers API writes them, without going through that API.

/** A small flavor snapshot (1 vCPU, 512 MB, 1 GB) unless told otherwise. */
export function testFlavor(o: Partial<FlavorSnapshot> = {}): FlavorSnapshot {
  return {
    flavorid: 'f1', name: 'm1.test', vcpus: 1, memory_mb: 512, root_gb: 1, ephemeral_gb: 0, swap: 0,
    rxtx_factor: 1, is_public: true, description: null, extra_specs: {}, ...o,
  }
}

/**
 * Inserts a server as the API does at create (building/scheduling, no host, desired running,
 * desired_gen 1) with its `create` action. Returns the row.
 */
export async function insertTestInstance(c: ComputeCtx, o: Partial<InstanceRow> & { flavorSnapshot?: FlavorSnapshot } = {}): Promise<InstanceRow> {
  const now = new Date(c.clock.now()).toISOString()
  const uuid = o.uuid ?? randomUUID()
  const { flavorSnapshot, ...rest } = o
  const row: InstanceRow = {
    uuid, project_id: 'p1', user_id: 'u1', display_name: `vm-${uuid.slice(0, 8)}`, display_description: null,
    hostname: `vm-${uuid.slice(0, 8)}`, reservation_id: `r-${uuid.slice(0, 8)}`, launch_index: 0, image_ref: 'img-1',
    flavor: JSON.stringify(flavorSnapshot ?? testFlavor()), key_name: null, key_data: null, user_data: null,
    availability_zone: '', host: null, node: null, vm_state: 'building', task_state: 'scheduling', power_state: 0,
    desired_power: 'running', desired_gen: 1, applied_gen: 0, pending_op: null, locked: 0, locked_by: null, locked_reason: null,
    access_ip_v4: null, access_ip_v6: null, config_drive: '', requested_networks: '"auto"', addresses: '{}',
    block_device_mapping: '[]', system_metadata: '{}', root_device_name: '/dev/vda', progress: 0,
    created_at: now, updated_at: null, launched_at: null, terminated_at: null, deleted: 0, deleted_at: null,
    ...rest,
  }
  const db = c.db as Kysely<ComputeSchema>
  await db.insertInto('instances').values(row).execute()
  await db.insertInto('instance_actions').values({
    uuid, action: 'create', request_id: `req-${randomUUID()}`, user_id: row.user_id, project_id: row.project_id,
    start_time: now, finish_time: null, message: null, updated_at: now,
  } as never).execute()
  return row
}

/** A host registration body for the agent API (4 vCPU, 8 GB, 100 GB unless told otherwise). */
export function testHostBody(o: Record<string, unknown> = {}) {
  return {
    hypervisor_type: 'QEMU', hypervisor_version: 8002000, vcpus: 4, memory_mb: 8192, local_gb: 100,
    host_ip: '192.0.2.10', agent_url: '', ...o,
  }
}

/** Registers `name` through the agent API in `zone` (testHostBody sizes unless overridden); returns its node uuid. */
export async function registerTestHost(h: ComputeHarness, name: string, zone: string, o: Record<string, unknown> = {}): Promise<string> {
  const r = await h.json('PUT', `/cumulo-agent/v1/hosts/${name}`, { body: testHostBody({ zone, ...o }) })
  if (r.status !== 200) throw new Error(`register ${name}: ${r.status} ${JSON.stringify(r.body)}`)
  return r.body.compute_node.uuid as string
}
