import { createHash, randomUUID } from 'node:crypto'
import { keepAggregateZone } from './aggregates.ts'
import type { ComputeCtx } from './context.ts'
import { type FlavorSnapshot, type PendingOp, hostRevision, json } from './instances.ts'
import { setInventory } from './placement.ts'
import type { InstanceRow, ServiceRow } from './schema.ts'

// The controller's side of the agents' registration/heartbeat and of their watch list
// (docs/compute.md "Agent API"). The report handler is in agent-reports.ts.

/** The binary every compute agent registers as (Nova's name, shown by os-services). */
export const COMPUTE_BINARY = 'nova-compute'
/** A service not seen for this long is down (Nova's service_down_time). */
export const SERVICE_DOWN_MS = 60_000
/** The zone of a host that did not say (Nova's default_availability_zone). */
export const DEFAULT_ZONE = 'nova'

/** What an agent sends when it registers or heartbeats. */
export interface HostRegistration {
  hypervisor_type: string; hypervisor_version: number; vcpus: number; memory_mb: number; local_gb: number
  host_ip: string; agent_url: string; zone?: string
}

/** One server as the agent of its host sees it (docs/compute.md `AgentInstance`). */
export interface AgentInstance {
  uuid: string; name: string; hostname: string; project_id: string; user_id: string
  desired_power: string; desired_gen: number; applied_gen: number; pending_op: PendingOp | null
  vm_state: string; task_state: string | null; flavor: FlavorSnapshot; image_ref: string
  image: { id: string; disk_format: string | null; container_format: string | null; checksum: string | null; size: number | null } | null
  key_name: string | null; key_data: string | null; user_data: string | null; metadata: Record<string, string>
  availability_zone: string; launch_index: number; reservation_id: string
  nics: Array<{ mac: string; mode: 'user' }>; created_at: string
}

/** True when a compute service counts as up: not forced down and seen in the last 60 s. */
export function serviceUp(svc: Pick<ServiceRow, 'forced_down' | 'last_seen_at'>, nowMs: number): boolean {
  if (Number(svc.forced_down)) return false
  if (!svc.last_seen_at) return false
  return nowMs - Date.parse(svc.last_seen_at) <= SERVICE_DOWN_MS
}

/** The inventories a host of this size offers (Nova's default allocation ratios and reserved memory). */
export function hostInventories(r: Pick<HostRegistration, 'vcpus' | 'memory_mb' | 'local_gb'>) {
  return {
    VCPU: { total: r.vcpus, allocation_ratio: 4.0 },
    MEMORY_MB: { total: r.memory_mb, reserved: r.memory_mb > 4096 ? 512 : 0, allocation_ratio: 1.0 },
    DISK_GB: { total: r.local_gb, allocation_ratio: 1.0 },
  }
}

/**
 * Registers a host or records its heartbeat: the nova-compute service (`last_seen_at`), the
 * compute node and its resource provider with inventories, in one transaction. Returns the
 * compute node's uuid and the host's watch revision.
 */
export async function registerHost(c: ComputeCtx, host: string, r: HostRegistration): Promise<{ compute_node: { uuid: string }; revision: number }> {
  const now = new Date(c.clock.now()).toISOString()
  return c.db.transaction().execute(async (tx) => {
    await tx.insertInto('services').values({
      uuid: randomUUID(), host, binary: COMPUTE_BINARY, zone: r.zone || DEFAULT_ZONE, disabled: 0, disabled_reason: null,
      forced_down: 0, last_seen_at: now, created_at: now, updated_at: null,
    } as never).onConflict((oc) => oc.columns(['host', 'binary']).doUpdateSet({
      last_seen_at: now, ...(r.zone ? { zone: r.zone } : {}),
    })).execute()
    // A host in an AZ aggregate keeps that aggregate's zone whatever its agent declares.
    await keepAggregateZone(tx, host)
    const node = {
      hypervisor_hostname: host, hypervisor_type: r.hypervisor_type, hypervisor_version: r.hypervisor_version,
      vcpus: r.vcpus, memory_mb: r.memory_mb, local_gb: r.local_gb, host_ip: r.host_ip, agent_url: r.agent_url,
    }
    const old = await tx.selectFrom('compute_nodes').selectAll().where('host', '=', host).executeTakeFirst()
    let uuid: string
    if (!old) {
      uuid = randomUUID()
      await tx.insertInto('compute_nodes').values({ uuid, host, ...node, created_at: now, updated_at: null } as never)
        .onConflict((oc) => oc.column('host').doNothing()).execute()
      uuid = (await tx.selectFrom('compute_nodes').select('uuid').where('host', '=', host).executeTakeFirstOrThrow()).uuid
    } else {
      uuid = old.uuid
      const changed = (Object.keys(node) as Array<keyof typeof node>).some((k) => String(old[k]) !== String(node[k]))
      if (changed) await tx.updateTable('compute_nodes').set({ ...node, updated_at: now }).where('host', '=', host).execute()
    }
    await setInventory(tx, now, uuid, host, hostInventories(r))
    // The watch row exists from the start: bumpHost's insert-if-missing could race on PostgreSQL.
    await tx.insertInto('host_revisions').values({ host, revision: 0 }).onConflict((oc) => oc.column('host').doNothing()).execute()
    return { compute_node: { uuid }, revision: await hostRevision(tx, host) }
  })
}

/** A server's NIC MAC: stable per server, in OpenStack's fa:16:3e prefix. */
export function macOf(uuid: string): string {
  const h = createHash('sha256').update(uuid).digest()
  return `fa:16:3e:${[h[0], h[1], h[2]].map((b) => b!.toString(16).padStart(2, '0')).join(':')}`
}

/** The NICs an instance gets before Neutron: none for networks 'none', else one user-mode NIC. */
export function nicsOf(row: Pick<InstanceRow, 'uuid' | 'requested_networks'>): Array<{ mac: string; mode: 'user' }> {
  let req: unknown
  try { req = json<unknown>(row.requested_networks, 'auto') } catch { req = row.requested_networks }
  if (req === 'none') return []
  return [{ mac: macOf(row.uuid), mode: 'user' }]
}

/** The image the agent must fetch, from the image properties the API saved in system_metadata. */
function imageOf(row: InstanceRow, sys: Record<string, unknown>): AgentInstance['image'] {
  if (!row.image_ref) return null
  const str = (k: string) => (typeof sys[k] === 'string' && sys[k] !== '' ? sys[k] as string : null)
  const size = sys.image_size
  return {
    id: row.image_ref, disk_format: str('image_disk_format'), container_format: str('image_container_format'),
    checksum: str('image_checksum'),
    size: size === undefined || size === null || size === '' || Number.isNaN(Number(size)) ? null : Number(size),
  }
}

/** Every live server assigned to `host`, as its agent sees it, with the host's revision read first. */
export async function hostInstances(c: ComputeCtx, host: string): Promise<{ revision: number; instances: AgentInstance[] }> {
  // Revision first: a change committing after the read is either in the list or moves the
  // revision past what we answer, so the agent never misses it.
  const revision = await hostRevision(c.db, host)
  const rows = await c.db.selectFrom('instances').selectAll().where('host', '=', host).where('deleted', '=', 0)
    .orderBy('created_at').orderBy('uuid').execute()
  const uuids = rows.map((r) => r.uuid)
  const meta = uuids.length ? await c.db.selectFrom('instance_metadata').selectAll().where('uuid', 'in', uuids).execute() : []
  const svc = await c.db.selectFrom('services').select('zone').where('host', '=', host).where('binary', '=', COMPUTE_BINARY).executeTakeFirst()
  const instances = rows.map((row): AgentInstance => {
    const sys = json<Record<string, unknown>>(row.system_metadata, {})
    return {
      uuid: row.uuid, name: row.display_name, hostname: row.hostname, project_id: row.project_id, user_id: row.user_id,
      desired_power: row.desired_power, desired_gen: Number(row.desired_gen), applied_gen: Number(row.applied_gen),
      pending_op: json<PendingOp | null>(row.pending_op, null), vm_state: row.vm_state, task_state: row.task_state,
      flavor: json<FlavorSnapshot>(row.flavor, {} as FlavorSnapshot), image_ref: row.image_ref, image: imageOf(row, sys),
      key_name: row.key_name, key_data: row.key_data, user_data: row.user_data,
      metadata: Object.fromEntries(meta.filter((m) => m.uuid === row.uuid).map((m) => [m.key, m.value])),
      availability_zone: svc?.zone ?? (row.availability_zone || DEFAULT_ZONE),
      launch_index: Number(row.launch_index), reservation_id: row.reservation_id, nics: nicsOf(row), created_at: row.created_at,
    }
  })
  return { revision, instances }
}
