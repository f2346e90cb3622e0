import { createHash } from 'node:crypto'
import type { FastifyRequest } from 'fastify'
import type { ComputeCtx } from '../context.ts'
import { type FlavorSnapshot, json } from '../instances.ts'
import { atLeast } from '../microversion.ts'
import type { InstanceFaultRow, InstanceRow, ServiceRow } from '../schema.ts'
import { baseUrl, links } from './common.ts'

// How a server looks to a client (nova/api/openstack/compute/views/servers.py and
// api/openstack/common.py's state map), for every microversion Tempest and the clients use.
// Everything a page of servers needs besides its rows (metadata, tags, the newest fault, the
// host's service, groups) is loaded in one query per table by `loadViewExtras`: no N+1.

/** A compute service is down when it has not been seen for this long (docs/compute.md). */
export const SERVICE_DOWN_MS = 60_000

/** Nova's vm_state × task_state → API status (common.py _STATE_MAP). */
const STATE_MAP: Record<string, Record<string, string>> = {
  active: {
    default: 'ACTIVE', rebooting: 'REBOOT', reboot_pending: 'REBOOT', reboot_started: 'REBOOT',
    rebooting_hard: 'HARD_REBOOT', reboot_pending_hard: 'HARD_REBOOT', reboot_started_hard: 'HARD_REBOOT',
    updating_password: 'PASSWORD', rebuilding: 'REBUILD', rebuild_block_device_mapping: 'REBUILD',
    rebuild_spawning: 'REBUILD', migrating: 'MIGRATING', resize_prep: 'RESIZE', resize_migrating: 'RESIZE',
    resize_migrated: 'RESIZE', resize_finish: 'RESIZE',
  },
  building: { default: 'BUILD' },
  stopped: {
    default: 'SHUTOFF', resize_prep: 'RESIZE', resize_migrating: 'RESIZE', resize_migrated: 'RESIZE',
    resize_finish: 'RESIZE', rebuilding: 'REBUILD', rebuild_block_device_mapping: 'REBUILD', rebuild_spawning: 'REBUILD',
  },
  resized: { default: 'VERIFY_RESIZE', resize_reverting: 'REVERT_RESIZE' },
  paused: { default: 'PAUSED', migrating: 'MIGRATING' },
  suspended: { default: 'SUSPENDED' },
  rescued: { default: 'RESCUE' },
  error: { default: 'ERROR', rebuilding: 'REBUILD', rebuild_block_device_mapping: 'REBUILD', rebuild_spawning: 'REBUILD' },
  deleted: { default: 'DELETED' },
  soft_deleted: { default: 'SOFT_DELETED' },
  shelved: { default: 'SHELVED' },
  shelved_offloaded: { default: 'SHELVED_OFFLOADED' },
}

/** The API status of a server (common.py status_from_state). */
export function serverStatus(vmState: string, taskState: string | null): string {
  const m = STATE_MAP[vmState]
  if (!m) return 'UNKNOWN'
  return (taskState && m[taskState]) || m.default!
}

/**
 * The vm_states and task_states that show as any of `statuses` (common.py
 * task_and_vm_state_from_status); `taskStates` is undefined when a status is some vm_state's
 * default (then the task state does not matter).
 */
export function statesFromStatus(statuses: string[]): { vmStates: string[]; taskStates?: string[] } {
  const want = new Set(statuses.map((s) => s.toLowerCase()))
  const vm = new Set<string>()
  const task = new Set<string>()
  for (const [state, map] of Object.entries(STATE_MAP)) {
    for (const [t, status] of Object.entries(map)) {
      if (want.has(status.toLowerCase())) { vm.add(state); task.add(t) }
    }
  }
  return { vmStates: [...vm].sort(), taskStates: task.has('default') ? undefined : [...task].sort() }
}

const FAULT_STATUSES = new Set(['ERROR', 'DELETED'])
const PROGRESS_STATUSES = new Set(['ACTIVE', 'BUILD', 'REBUILD', 'RESIZE', 'VERIFY_RESIZE', 'MIGRATING'])

/** Nova's utils.isotime: seconds precision, `Z`. */
export function isoSeconds(s: string | null): string {
  return (s ? new Date(s) : new Date()).toISOString().replace(/\.\d{3}Z$/, 'Z')
}
/** OS-SRV-USG times: str() of a naive datetime, as Nova renders them. */
function usgTime(s: string | null): string | null {
  return s ? new Date(s).toISOString().replace(/(\.\d{3})Z$/, '$1000') : null
}

/** Nova's hostId: sha224 of the project id and the host name ('' without a host). */
export function hostId(projectId: string, host: string | null): string {
  return host ? createHash('sha224').update(projectId + host).digest('hex') : ''
}

/**
 * Nova's host_status (compute/api.py get_instance_host_status): '' without a host or service,
 * DOWN when forced down, MAINTENANCE when disabled, UP when seen lately, else UNKNOWN.
 */
export function hostStatus(host: string | null, svc: ServiceRow | undefined, now: number): string {
  if (!host || !svc) return ''
  if (Number(svc.forced_down)) return 'DOWN'
  if (Number(svc.disabled)) return 'MAINTENANCE'
  return svc.last_seen_at && now - Date.parse(svc.last_seen_at) <= SERVICE_DOWN_MS ? 'UP' : 'UNKNOWN'
}

/** What the view needs of a server besides its row; `loadViewExtras` builds it for a page. */
export interface ViewExtras {
  metadata: Record<string, string>
  tags: string[]
  /** The newest fault (shown in ERROR/DELETED). */
  fault?: InstanceFaultRow
  /** The nova-compute service of the server's host. */
  service?: ServiceRow
  /** Server groups the server is in (2.71). */
  groups: string[]
  /** Policy answers for this server's project. */
  showExtendedAttr: boolean
  showHostStatus: boolean
  showFlavorExtraSpecs: boolean
  isAdmin: boolean
  now: number
}

/** Loads the extras of many servers at once (one query per table). */
export async function loadViewExtras(c: ComputeCtx, req: FastifyRequest, rows: InstanceRow[]): Promise<Map<string, ViewExtras>> {
  const out = new Map<string, ViewExtras>()
  if (rows.length === 0) return out
  const uuids = rows.map((r) => r.uuid)
  const hosts = [...new Set(rows.map((r) => r.host).filter((h): h is string => !!h))]
  const [meta, tags, faults, services, groups] = await Promise.all([
    chunked(uuids, (ids) => c.db.selectFrom('instance_metadata').selectAll().where('uuid', 'in', ids).execute()),
    chunked(uuids, (ids) => c.db.selectFrom('instance_tags').selectAll().where('uuid', 'in', ids).orderBy('tag').execute()),
    // Only servers that show a fault need one; the newest per server wins below.
    chunked(rows.filter((r) => FAULT_STATUSES.has(serverStatus(r.vm_state, r.task_state))).map((r) => r.uuid),
      (ids) => c.db.selectFrom('instance_faults').selectAll().where('uuid', 'in', ids).orderBy('id', 'asc').execute()),
    hosts.length
      ? c.db.selectFrom('services').selectAll().where('host', 'in', hosts).where('binary', '=', 'nova-compute').execute()
      : Promise.resolve([] as ServiceRow[]),
    chunked(uuids, (ids) => c.db.selectFrom('server_group_members').selectAll().where('instance_uuid', 'in', ids).execute()),
  ])
  const isAdmin = c.policy.check('context_is_admin', req.ctx)
  const perProject = new Map<string, [boolean, boolean, boolean]>()
  const now = c.clock.now()
  for (const r of rows) {
    let p = perProject.get(r.project_id)
    if (!p) {
      const t = { project_id: r.project_id }
      p = [c.policy.check('os_compute_api:os-extended-server-attributes', req.ctx, t),
        c.policy.check('os_compute_api:servers:show:host_status', req.ctx, t),
        c.policy.check('os_compute_api:servers:show:flavor-extra-specs', req.ctx, t)]
      perProject.set(r.project_id, p)
    }
    out.set(r.uuid, { metadata: {}, tags: [], groups: [], showExtendedAttr: p[0], showHostStatus: p[1],
      showFlavorExtraSpecs: p[2], isAdmin, now,
      service: r.host ? services.find((s) => s.host === r.host) : undefined })
  }
  for (const m of meta) out.get(m.uuid)!.metadata[m.key] = m.value
  for (const t of tags) out.get(t.uuid)!.tags.push(t.tag)
  for (const f of faults) out.get(f.uuid)!.fault = f
  for (const g of groups) out.get(g.instance_uuid)!.groups.push(g.group_uuid)
  return out
}

/** Runs `q` on slices of `ids` small enough for any database's parameter limit. */
async function chunked<T>(ids: string[], q: (ids: string[]) => Promise<T[]>): Promise<T[]> {
  const out: T[] = []
  for (let i = 0; i < ids.length; i += 500) out.push(...await q(ids.slice(i, i + 500)))
  return out
}

/**
 * Which view: `detail` (GET one or detail lists), `update` (PUT answer: the short view before
 * 2.75, the full one from it) and `rebuild` (the full view without OS-EXT-SRV-ATTR:user_data, as
 * rebuild puts `user_data` itself from 2.57).
 */
export type ViewMode = 'detail' | 'list' | 'update' | 'rebuild'

/** The addresses of a server; the short view drops the OS-EXT-IPS fields. */
function addressesOf(row: InstanceRow, extended: boolean): Record<string, unknown> {
  const a = json<Record<string, Array<Record<string, unknown>>>>(row.addresses, {})
  if (extended) return a
  return Object.fromEntries(Object.entries(a).map(([net, ips]) => [net, ips.map((ip) => ({ version: ip.version, addr: ip.addr }))]))
}

/** The server as Nova's view builder shows it (views/servers.py ViewBuilder.show). */
export function serverView(req: FastifyRequest, row: InstanceRow, extras: ViewExtras, mode: ViewMode = 'detail'): Record<string, unknown> {
  const full = mode === 'detail' || mode === 'list' || atLeast(req, '2.75')
  const status = serverStatus(row.vm_state, row.task_state)
  const base = baseUrl(req)
  const flavor = json<FlavorSnapshot>(row.flavor, {} as FlavorSnapshot)
  const s: Record<string, unknown> = {
    id: row.uuid, name: row.display_name, status, tenant_id: row.project_id, user_id: row.user_id,
    metadata: extras.metadata, hostId: hostId(row.project_id, row.host),
    image: row.image_ref ? { id: row.image_ref, links: [{ rel: 'bookmark', href: `${base}/images/${row.image_ref}` }] } : '',
    flavor: atLeast(req, '2.47')
      ? {
          vcpus: Number(flavor.vcpus), ram: Number(flavor.memory_mb), disk: Number(flavor.root_gb),
          ephemeral: Number(flavor.ephemeral_gb), swap: Number(flavor.swap), original_name: flavor.name,
          ...(extras.showFlavorExtraSpecs ? { extra_specs: flavor.extra_specs ?? {} } : {}),
        }
      : { id: flavor.flavorid, links: [{ rel: 'bookmark', href: `${base}/flavors/${flavor.flavorid}` }] },
    created: isoSeconds(row.created_at), updated: isoSeconds(row.updated_at ?? row.created_at),
    addresses: addressesOf(row, full),
    accessIPv4: row.access_ip_v4 ?? '', accessIPv6: row.access_ip_v6 ?? '',
    links: links(req, 'servers', row.uuid),
    'OS-DCF:diskConfig': json<Record<string, string>>(row.system_metadata, {}).disk_config ?? 'MANUAL',
  }
  if (FAULT_STATUSES.has(status) && extras.fault) {
    const f = extras.fault
    s.fault = {
      code: Number(f.code), created: isoSeconds(f.created_at), message: f.message,
      // Nova hides a 500's details (a traceback) from non-admins.
      ...(extras.isAdmin || Number(f.code) !== 500 ? { details: f.details } : {}),
    }
  }
  if (PROGRESS_STATUSES.has(status)) s.progress = Number(row.progress ?? 0)
  if (full) {
    s['OS-EXT-AZ:availability_zone'] = extras.service?.zone ?? row.availability_zone ?? ''
    s.config_drive = row.config_drive
    s.key_name = row.key_name
    s['OS-SRV-USG:launched_at'] = usgTime(row.launched_at)
    s['OS-SRV-USG:terminated_at'] = usgTime(row.terminated_at)
    // Nova shows the groups of the server's ports: none without a NIC.
    if (row.requested_networks !== '"none"') s.security_groups = [{ name: 'default' }]
    if (extras.showExtendedAttr) {
      s['OS-EXT-SRV-ATTR:host'] = row.host
      s['OS-EXT-SRV-ATTR:instance_name'] = instanceName(row.uuid)
      s['OS-EXT-SRV-ATTR:hypervisor_hostname'] = row.node
      if (atLeast(req, '2.3')) {
        s['OS-EXT-SRV-ATTR:reservation_id'] = row.reservation_id
        s['OS-EXT-SRV-ATTR:launch_index'] = Number(row.launch_index)
        s['OS-EXT-SRV-ATTR:hostname'] = row.hostname
        s['OS-EXT-SRV-ATTR:kernel_id'] = ''
        s['OS-EXT-SRV-ATTR:ramdisk_id'] = ''
        s['OS-EXT-SRV-ATTR:root_device_name'] = row.root_device_name || null
        if (mode !== 'rebuild') s['OS-EXT-SRV-ATTR:user_data'] = row.user_data
      }
    }
    s['OS-EXT-STS:task_state'] = row.task_state
    s['OS-EXT-STS:vm_state'] = row.vm_state
    s['OS-EXT-STS:power_state'] = Number(row.power_state)
    s['os-extended-volumes:volumes_attached'] = []
    if (atLeast(req, '2.16') && extras.showHostStatus) s.host_status = hostStatus(row.host, extras.service, extras.now)
  }
  if (atLeast(req, '2.9')) s.locked = !!Number(row.locked)
  if (atLeast(req, '2.73')) s.locked_reason = row.locked_reason
  if (atLeast(req, '2.19')) s.description = row.display_description
  if (atLeast(req, '2.26')) s.tags = extras.tags
  if (atLeast(req, '2.63')) s.trusted_image_certificates = null
  if (atLeast(req, '2.90') && !extras.showExtendedAttr) s['OS-EXT-SRV-ATTR:hostname'] = row.hostname
  // Lists never show server groups (Nova would have to look them up per server).
  if (atLeast(req, '2.71') && mode !== 'list') s.server_groups = extras.groups
  return s
}

/** The short list entry (GET /servers): id, name, links. */
export function serverBrief(req: FastifyRequest, row: InstanceRow): Record<string, unknown> {
  return { id: row.uuid, links: links(req, 'servers', row.uuid), name: row.display_name }
}

/** Nova's instance_name_template is `instance-%08x` of an internal serial; ours uses the uuid's head. */
export function instanceName(uuid: string): string {
  return `instance-${uuid.replace(/-/g, '').slice(0, 8)}`
}
