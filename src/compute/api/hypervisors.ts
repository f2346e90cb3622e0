import type { FastifyRequest } from 'fastify'
import type { Api } from '../../core/http/app.ts'
import { askAgent } from '../clients/agent.ts'
import { CloudError, badRequest } from '../../core/errors.ts'
import { serviceUp } from '../agent-hosts.ts'
import type { ComputeCtx } from '../context.ts'
import { atLeast } from '../microversion.ts'
import type { ComputeNodeRow, ServiceRow } from '../schema.ts'
import { MAX_LIMIT, baseUrl, checkQueryKeys, strictBool } from './common.ts'

// os-hypervisors (nova/api/openstack/compute/hypervisors.py): one hypervisor per compute
// node. Usage (*_used) is what placement has allocated on the node's provider; running_vms the
// live servers on the host. 2.28: cpu_info an object; 2.33: limit/marker; 2.53: uuid ids,
// hypervisor_hostname_pattern and with_servers replace /search and /{id}/servers.

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

interface Hv { node: ComputeNodeRow; service?: ServiceRow; used: Record<string, number>; running: number; busy: number }

/** Wires os-hypervisors. */
export function hypervisorRoutes(api: Api, c: ComputeCtx, P: string): void {
  /** Nodes with their service and usage; `nodes` pre-filtered by the caller. */
  async function load(nodes: ComputeNodeRow[]): Promise<Hv[]> {
    if (nodes.length === 0) return []
    const hosts = nodes.map((n) => n.host)
    const [svcs, allocs, insts] = await Promise.all([
      c.db.selectFrom('services').selectAll().where('binary', '=', 'nova-compute').where('host', 'in', hosts).execute(),
      c.db.selectFrom('allocations').select(['rp_uuid', 'resource_class', (eb) => eb.fn.sum<number>('used').as('used')])
        .where('rp_uuid', 'in', nodes.map((n) => n.uuid)).groupBy(['rp_uuid', 'resource_class']).execute(),
      c.db.selectFrom('instances').select(['host', 'task_state']).where('host', 'in', hosts).where('deleted', '=', 0).execute(),
    ])
    return nodes.map((node) => ({
      node, service: svcs.find((s) => s.host === node.host),
      used: Object.fromEntries(allocs.filter((a) => a.rp_uuid === node.uuid).map((a) => [a.resource_class, Number(a.used)])),
      running: insts.filter((i) => i.host === node.host).length,
      busy: insts.filter((i) => i.host === node.host && i.task_state !== null).length,
    }))
  }
  const state = (h: Hv) => (h.service && serviceUp(h.service, c.clock.now()) ? 'up' : 'down')
  const status = (h: Hv) => (h.service && Number(h.service.disabled) ? 'disabled' : 'enabled')
  const idOf = (req: FastifyRequest, h: Hv) => (atLeast(req, '2.53') ? h.node.uuid : Number(h.node.id))

  async function serversOf(hosts: string[]): Promise<Map<string, Array<{ name: string; uuid: string }>>> {
    const rows = hosts.length === 0 ? [] : await c.db.selectFrom('instances').select(['uuid', 'display_name', 'host'])
      .where('host', 'in', hosts).where('deleted', '=', 0).orderBy('created_at').execute()
    const out = new Map<string, Array<{ name: string; uuid: string }>>()
    for (const r of rows) {
      // Nova names servers by their instance name here; the display name is what users know.
      const list = out.get(r.host!) ?? []
      list.push({ name: r.display_name, uuid: r.uuid })
      out.set(r.host!, list)
    }
    return out
  }

  function brief(req: FastifyRequest, h: Hv): Record<string, unknown> {
    return { id: idOf(req, h), hypervisor_hostname: h.node.hypervisor_hostname, state: state(h), status: status(h) }
  }
  function detail(req: FastifyRequest, h: Hv): Record<string, unknown> {
    const n = h.node
    const vcpusUsed = h.used.VCPU ?? 0
    const memUsed = h.used.MEMORY_MB ?? 0
    const diskUsed = h.used.DISK_GB ?? 0
    return {
      ...brief(req, h),
      vcpus: Number(n.vcpus), memory_mb: Number(n.memory_mb), local_gb: Number(n.local_gb),
      vcpus_used: vcpusUsed, memory_mb_used: memUsed, local_gb_used: diskUsed,
      hypervisor_type: n.hypervisor_type, hypervisor_version: Number(n.hypervisor_version),
      free_ram_mb: Number(n.memory_mb) - memUsed, free_disk_gb: Number(n.local_gb) - diskUsed,
      current_workload: h.busy, running_vms: h.running, disk_available_least: Number(n.local_gb) - diskUsed,
      host_ip: n.host_ip, cpu_info: atLeast(req, '2.28') ? {} : '{}',
      service: {
        host: n.host, id: atLeast(req, '2.53') ? h.service?.uuid ?? null : Number(h.service?.id ?? 0),
        disabled_reason: h.service?.disabled_reason ?? null,
      },
    }
  }

  /** The list and detail views (2.33 paging, 2.53 pattern and with_servers). */
  async function list(req: FastifyRequest, full: boolean): Promise<Record<string, unknown>> {
    const q = req.query as Record<string, string>
    const v253 = atLeast(req, '2.53')
    checkQueryKeys(req, q, ['limit', 'marker', ...(v253 ? ['hypervisor_hostname_pattern', 'with_servers'] : [])], '2.53')
    let query = c.db.selectFrom('compute_nodes').selectAll()
    let limit = Infinity
    if (atLeast(req, '2.33')) {
      if (q.limit !== undefined) {
        if (!/^\d+$/.test(q.limit)) throw badRequest('limit param must be an integer')
        limit = Math.min(Number(q.limit), MAX_LIMIT)
      }
      if (q.marker !== undefined) {
        const m = await (v253 ? c.db.selectFrom('compute_nodes').select('id').where('uuid', '=', q.marker)
          : c.db.selectFrom('compute_nodes').select('id').where('id', '=', /^\d+$/.test(q.marker) ? Number(q.marker) : -1)).executeTakeFirst()
        if (!m) throw badRequest(`marker [${q.marker}] not found`)
        query = query.where('id', '>', m.id)
      }
    }
    const pattern = v253 ? q.hypervisor_hostname_pattern : undefined
    if (pattern !== undefined && q.limit !== undefined) throw badRequest('Paging over hypervisors with the hypervisor_hostname_pattern query parameter is not supported.')
    let nodes = await query.orderBy('id').execute()
    if (pattern !== undefined) {
      nodes = nodes.filter((n) => n.hypervisor_hostname.includes(pattern))
      if (nodes.length === 0) throw new CloudError('NotFound', `No hypervisor matching '${pattern}' could be found.`)
    }
    if (Number.isFinite(limit)) nodes = nodes.slice(0, limit)
    const hvs = await load(nodes)
    const withServers = v253 && q.with_servers !== undefined && strictBool(q.with_servers) === true
    const servers = withServers ? await serversOf(nodes.map((n) => n.host)) : undefined
    const body: Record<string, unknown> = {
      hypervisors: hvs.map((h) => {
        const v = full ? detail(req, h) : brief(req, h)
        const s = servers?.get(h.node.host)
        if (s) v.servers = s
        return v
      }),
    }
    if (Number.isFinite(limit) && hvs.length === limit && hvs.length > 0) {
      const params = new URLSearchParams({ ...q, limit: String(limit), marker: String(idOf(req, hvs.at(-1)!)) })
      body.hypervisors_links = [{ rel: 'next', href: `${baseUrl(req)}/v2.1/os-hypervisors${full ? '/detail' : ''}?${params}` }]
    }
    return body
  }

  /** One node by the id form of the request's microversion, or Nova's 404/400. */
  async function one(req: FastifyRequest, id: string): Promise<Hv> {
    if (atLeast(req, '2.53') && !UUID.test(id)) throw badRequest(`Invalid uuid ${id}`)
    const row = await (atLeast(req, '2.53') ? c.db.selectFrom('compute_nodes').selectAll().where('uuid', '=', id)
      : c.db.selectFrom('compute_nodes').selectAll().where('id', '=', /^\d+$/.test(id) ? Number(id) : -1)).executeTakeFirst()
    if (!row) throw new CloudError('NotFound', `Hypervisor with ID '${id}' could not be found.`)
    return (await load([row]))[0]!
  }

  api.get(`${P}/os-hypervisors`, { config: { policy: 'os_compute_api:os-hypervisors:list' } }, (req) => list(req, false))
  api.get(`${P}/os-hypervisors/detail`, { config: { policy: 'os_compute_api:os-hypervisors:list-detail' } }, (req) => list(req, true))

  api.get(`${P}/os-hypervisors/statistics`, { config: { policy: 'os_compute_api:os-hypervisors:statistics' } }, async (req) => {
    if (atLeast(req, '2.88')) throw new CloudError('NotFound', 'The resource could not be found.')
    const all = await load(await c.db.selectFrom('compute_nodes').selectAll().execute())
    const t = { count: 0, vcpus: 0, memory_mb: 0, local_gb: 0, vcpus_used: 0, memory_mb_used: 0, local_gb_used: 0,
      free_ram_mb: 0, free_disk_gb: 0, current_workload: 0, running_vms: 0, disk_available_least: 0 }
    for (const h of all) {
      const d = detail(req, h) as Record<string, number>
      t.count++
      for (const k of Object.keys(t) as Array<keyof typeof t>) if (k !== 'count') t[k] += Number(d[k] ?? 0)
    }
    return { hypervisor_statistics: t }
  })

  api.get(`${P}/os-hypervisors/:id`, { config: { policy: 'os_compute_api:os-hypervisors:show' } }, async (req) => {
    const q = req.query as Record<string, string>
    const h = await one(req, (req.params as { id: string }).id)
    const v = detail(req, h)
    if (atLeast(req, '2.53') && q.with_servers !== undefined && strictBool(q.with_servers) === true) {
      v.servers = (await serversOf([h.node.host])).get(h.node.host) ?? []
    }
    return { hypervisor: v }
  })

  // The host's agent answers (as Nova's compute service runs `uptime` on the host).
  api.get(`${P}/os-hypervisors/:id/uptime`, { config: { policy: 'os_compute_api:os-hypervisors:uptime' } }, async (req) => {
    const h = await one(req, (req.params as { id: string }).id)
    const r = await askAgent(c, h.node.host, '/uptime', req.headers['x-auth-token'] as string)
    const uptime = (r.body as { uptime?: unknown } | undefined)?.uptime
    if (typeof uptime !== 'string') throw new CloudError('Unavailable', `The compute agent of host ${h.node.host} gave no uptime.`)
    return { hypervisor: { ...brief(req, h), uptime } }
  })

  // Before 2.53 only.
  api.get(`${P}/os-hypervisors/:pattern/search`, { config: { policy: 'os_compute_api:os-hypervisors:search' } }, async (req) => {
    if (atLeast(req, '2.53')) throw new CloudError('NotFound', 'The resource could not be found.')
    const pattern = (req.params as { pattern: string }).pattern
    const nodes = (await c.db.selectFrom('compute_nodes').selectAll().orderBy('id').execute()).filter((n) => n.hypervisor_hostname.includes(pattern))
    if (nodes.length === 0) throw new CloudError('NotFound', `No hypervisor matching '${pattern}' could be found.`)
    return { hypervisors: (await load(nodes)).map((h) => brief(req, h)) }
  })
  api.get(`${P}/os-hypervisors/:pattern/servers`, { config: { policy: 'os_compute_api:os-hypervisors:servers' } }, async (req) => {
    if (atLeast(req, '2.53')) throw new CloudError('NotFound', 'The resource could not be found.')
    const pattern = (req.params as { pattern: string }).pattern
    const nodes = (await c.db.selectFrom('compute_nodes').selectAll().orderBy('id').execute()).filter((n) => n.hypervisor_hostname.includes(pattern))
    if (nodes.length === 0) throw new CloudError('NotFound', `No hypervisor matching '${pattern}' could be found.`)
    const servers = await serversOf(nodes.map((n) => n.host))
    return {
      hypervisors: (await load(nodes)).map((h) => {
        const v = brief(req, h)
        const s = servers.get(h.node.host)
        if (s) v.servers = s
        return v
      }),
    }
  })
}
