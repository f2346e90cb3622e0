import type { FastifyRequest } from 'fastify'
import type { Rules } from '../../core/policy.ts'
import type { Api } from '../../core/http/app.ts'
import { CloudError } from '../../core/errors.ts'
import type { ComputeCtx } from '../context.ts'
import { type FlavorSnapshot, json } from '../instances.ts'
import { atLeast } from '../microversion.ts'
import { validateBody } from './common.ts'

// os-hosts (nova/api/openstack/compute/hosts.py, schemas/hosts.py), deprecated and gone from
// 2.43: the hosts of the compute services with their zone, a host's resources (total, used now,
// used by its servers' flavors, per project), enabling or disabling a host's compute service, and
// the host power actions, which no driver here implements (Nova's 501 for such drivers).

const ADMIN = 'rule:context_is_admin'

/** Nova's default rules (nova/policies/hosts.py): all admin. */
export const osHostsRules: Rules = {
  'os_compute_api:os-hosts:list': ADMIN,
  'os_compute_api:os-hosts:show': ADMIN,
  'os_compute_api:os-hosts:update': ADMIN,
  'os_compute_api:os-hosts:start': ADMIN,
  'os_compute_api:os-hosts:shutdown': ADMIN,
  'os_compute_api:os-hosts:reboot': ADMIN,
}

/** PUT body: status and/or maintenance_mode, each enable or disable (case-insensitive, as Nova's schema). */
const UPDATE = {
  type: 'object', minProperties: 1, additionalProperties: false,
  properties: {
    status: { type: 'string', pattern: '^(?:[Ee][Nn][Aa][Bb][Ll][Ee]|[Dd][Ii][Ss][Aa][Bb][Ll][Ee])$' },
    maintenance_mode: { type: 'string', pattern: '^(?:[Ee][Nn][Aa][Bb][Ll][Ee]|[Dd][Ii][Ss][Aa][Bb][Ll][Ee])$' },
  },
}

/** Services' topics as os-hosts names them. */
const TOPIC: Record<string, string> = { 'nova-compute': 'compute', 'nova-conductor': 'conductor', 'nova-scheduler': 'scheduler' }

/** Wires /os-hosts (404 from 2.43, as Nova's versioned routes). */
export function osHostRoutes(api: Api, c: ComputeCtx, P: string): void {
  c.policy.register(osHostsRules)
  const cfg = (rule: string) => ({ config: { policy: rule }, preHandler: async (req: FastifyRequest) => {
    if (atLeast(req, '2.43')) throw new CloudError('NotFound', 'The resource could not be found.')
  } })
  /** The compute node of `host` (Nova's ComputeHostNotFound otherwise). */
  async function node(host: string) {
    const n = await c.db.selectFrom('compute_nodes').selectAll().where('host', '=', host).executeTakeFirst()
    if (!n) throw new CloudError('NotFound', `Compute host ${host} could not be found.`)
    return n
  }

  api.get(`${P}/os-hosts`, cfg('os_compute_api:os-hosts:list'), async (req) => {
    const zone = (req.query as Record<string, string | undefined>).zone
    const rows = await c.db.selectFrom('services').selectAll().orderBy('id').execute()
    const hosts = rows.map((s) => ({ host_name: s.host, service: TOPIC[s.binary] ?? s.binary, zone: s.binary === 'nova-compute' ? s.zone : 'internal' }))
    return { hosts: zone ? hosts.filter((h) => h.zone === zone) : hosts }
  })

  api.get(`${P}/os-hosts/:host`, cfg('os_compute_api:os-hosts:show'), async (req) => {
    const host = (req.params as { host: string }).host
    const n = await node(host)
    const total = { cpu: Number(n.vcpus), memory_mb: Number(n.memory_mb), disk_gb: Number(n.local_gb) }
    // Used now: what placement holds on the node (servers and resize claims).
    const alloc = await c.db.selectFrom('allocations').select(['resource_class', 'used']).where('rp_uuid', '=', n.uuid).execute()
    const sum = (rc: string) => alloc.filter((a) => a.resource_class === rc).reduce((t, a) => t + Number(a.used), 0)
    const now = { cpu: sum('VCPU'), memory_mb: sum('MEMORY_MB'), disk_gb: sum('DISK_GB') }
    // Used max and per project: the flavors of the servers on the host.
    const servers = await c.db.selectFrom('instances').select(['project_id', 'flavor']).where('host', '=', host).where('deleted', '=', 0).execute()
    const byProject = new Map<string, { cpu: number; memory_mb: number; disk_gb: number }>()
    const max = { cpu: 0, memory_mb: 0, disk_gb: 0 }
    for (const s of servers) {
      const f = json<FlavorSnapshot>(s.flavor, {} as FlavorSnapshot)
      const use = { cpu: Number(f.vcpus ?? 0), memory_mb: Number(f.memory_mb ?? 0), disk_gb: Number(f.root_gb ?? 0) + Number(f.ephemeral_gb ?? 0) }
      const p = byProject.get(s.project_id) ?? { cpu: 0, memory_mb: 0, disk_gb: 0 }
      for (const k of ['cpu', 'memory_mb', 'disk_gb'] as const) { p[k] += use[k]; max[k] += use[k] }
      byProject.set(s.project_id, p)
    }
    const resource = (project: string, r: typeof total) => ({ resource: { host, project, ...r } })
    return {
      host: [resource('(total)', total), resource('(used_now)', now), resource('(used_max)', max),
        ...[...byProject].map(([p, r]) => resource(p, r))],
    }
  })

  api.put(`${P}/os-hosts/:host`, cfg('os_compute_api:os-hosts:update'), async (req) => {
    validateBody(req, UPDATE)
    const host = (req.params as { host: string }).host
    const body = req.body as { status?: string; maintenance_mode?: string }
    await node(host)
    // Nova asks the virt driver for maintenance mode; no driver here has one.
    if (body.maintenance_mode !== undefined) {
      throw new CloudError('NotImplemented', 'Virt driver does not implement host maintenance mode.')
    }
    const enabled = body.status!.toLowerCase() === 'enable'
    await c.db.updateTable('services').set({
      disabled: enabled ? 0 : 1, disabled_reason: null, updated_at: new Date(c.clock.now()).toISOString(),
    }).where('host', '=', host).where('binary', '=', 'nova-compute').execute()
    return { host, status: enabled ? 'enabled' : 'disabled' }
  })

  for (const [action, rule] of [['startup', 'start'], ['shutdown', 'shutdown'], ['reboot', 'reboot']] as const) {
    api.get(`${P}/os-hosts/:host/${action}`, cfg(`os_compute_api:os-hosts:${rule}`), async (req) => {
      await node((req.params as { host: string }).host)
      throw new CloudError('NotImplemented', 'Virt driver does not implement host power management.')
    })
  }
}
