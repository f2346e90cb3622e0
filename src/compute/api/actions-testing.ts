import { randomUUID } from 'node:crypto'
import type { FlavorSnapshot } from '../instances.ts'
import type { InstanceRow } from '../schema.ts'
import type { ComputeHarness } from '../testing.ts'

// Test helpers for the server actions' tests: servers put straight into the state a test
// needs (rows shaped as docs/compute.md says), and a registered compute host.

/** The flavor snapshot test servers carry unless told otherwise. */
export const SMALL: FlavorSnapshot = {
  flavorid: 'small', name: 'm1.small', vcpus: 1, memory_mb: 512, root_gb: 1, ephemeral_gb: 0, swap: 0,
  rxtx_factor: 1, is_public: true, description: null, extra_specs: {},
}

/** Inserts a server row (host1, active, running, launched) with any column overridden. */
export async function insertServer(h: ComputeHarness, o: Partial<InstanceRow> & { project_id: string; user_id: string }): Promise<InstanceRow> {
  const now = new Date().toISOString()
  const uuid = o.uuid ?? randomUUID()
  const row: InstanceRow = {
    uuid, display_name: 'vm', display_description: null, hostname: 'vm', reservation_id: 'r-1', launch_index: 0,
    image_ref: randomUUID(), flavor: JSON.stringify(SMALL), key_name: null, key_data: null, user_data: null,
    availability_zone: '', host: 'host1', node: 'host1', vm_state: 'active', task_state: null, power_state: 1,
    desired_power: 'running', desired_gen: 1, applied_gen: 1, pending_op: null, locked: 0, locked_by: null, locked_reason: null,
    access_ip_v4: null, access_ip_v6: null, config_drive: '', requested_networks: '"auto"', addresses: '{}',
    block_device_mapping: '[]', system_metadata: '{}', root_device_name: '/dev/vda', progress: 0,
    created_at: now, updated_at: now, launched_at: now, terminated_at: null, deleted: 0, deleted_at: null,
    ...o,
  }
  await h.compute.ctx.db.insertInto('instances').values(row as never).execute()
  return row
}

/** The row as stored now. */
export function rowOf(h: ComputeHarness, uuid: string): Promise<InstanceRow> {
  return h.compute.ctx.db.selectFrom('instances').selectAll().where('uuid', '=', uuid).executeTakeFirstOrThrow()
}

/** Registers a compute host through the agent API (service, node, provider with inventories). */
export async function registerHost(h: ComputeHarness, host = 'host1', o: { agentUrl?: string; zone?: string } = {}): Promise<string> {
  const r = await h.json('PUT', `/cumulo-agent/v1/hosts/${host}`, {
    body: { hypervisor_type: 'QEMU', hypervisor_version: 8002000, vcpus: 4, memory_mb: 8192, local_gb: 100,
      host_ip: '127.0.0.1', agent_url: o.agentUrl ?? '', ...(o.zone ? { zone: o.zone } : {}) },
  })
  if (r.status !== 200) throw new Error(`register host: ${r.status} ${JSON.stringify(r.body)}`)
  return r.body.compute_node.uuid as string
}
