import type { FastifyRequest } from 'fastify'
import type { Api } from '../../core/http/app.ts'
import { CloudError, badRequest } from '../../core/errors.ts'
import type { ComputeCtx } from '../context.ts'
import { type FlavorSnapshot, json } from '../instances.ts'
import { atLeast } from '../microversion.ts'
import type { InstanceRow } from '../schema.ts'
import { MAX_LIMIT, baseUrl, deny } from './common.ts'

// os-simple-tenant-usage (nova/api/openstack/compute/simple_tenant_usage.py): for a period,
// each server that was alive in it is charged hours × its flavor (vcpus, memory_mb, root +
// ephemeral disk) from launched_at to terminated_at (or the period's end). Deleted servers
// count. 2.40: limit/marker over servers.

/** oslo's isotime without zone, microseconds always (Nova's datetime serialisation). */
function naive(ms: number): string {
  const d = new Date(ms)
  return `${d.toISOString().slice(0, 19)}.${String(d.getUTCMilliseconds() * 1000).padStart(6, '0')}`
}

/** Nova's _parse_datetime: three formats, UTC; absent means now. */
function parseTime(s: string | undefined, now: number): number {
  if (!s) return now
  const m = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(\.\d{1,6})?$/.exec(s)
  if (!m || (s.includes(' ') && !m[3])) throw badRequest('Datetime is in invalid format')
  const t = Date.parse(`${m[1]}T${m[2]}${m[3] ? m[3].slice(0, 4) : ''}Z`)
  if (Number.isNaN(t)) throw badRequest('Datetime is in invalid format')
  return t
}

/** Hours of `row` inside [start, stop] (Nova's _hours_for). */
function hoursFor(row: InstanceRow, start: number, stop: number): number {
  const launched = row.launched_at ? Date.parse(row.launched_at) : undefined
  const terminated = row.terminated_at ? Date.parse(row.terminated_at) : undefined
  if (terminated !== undefined && terminated < start) return 0
  if (launched === undefined || launched > stop) return 0
  const from = Math.max(launched, start)
  const to = terminated !== undefined ? Math.min(stop, terminated) : stop
  return (to - from) / 3_600_000
}

/** Wires GET /os-simple-tenant-usage and /os-simple-tenant-usage/{tenant_id}. */
export function usageRoutes(api: Api, c: ComputeCtx, P: string): void {
  async function usage(req: FastifyRequest, tenant: string | undefined) {
    const q = req.query as Record<string, string>
    const now = c.clock.now()
    const start = parseTime(q.start, now)
    const stop = parseTime(q.end, now + (q.start || q.end ? 0 : 1))
    if (!(start < stop)) throw badRequest('Invalid start time. The start time cannot occur after the end time.')
    const detailed = tenant !== undefined || q.detailed === '1'
    let query = c.db.selectFrom('instances').selectAll()
      .where((eb) => eb.or([eb('terminated_at', 'is', null), eb('terminated_at', '>', new Date(start).toISOString())]))
      .where((eb) => eb.or([eb('launched_at', 'is', null), eb('launched_at', '<', new Date(stop).toISOString())]))
    if (tenant !== undefined) query = query.where('project_id', '=', tenant)
    let limit = Infinity
    if (atLeast(req, '2.40')) {
      if (q.limit !== undefined) {
        if (!/^\d+$/.test(q.limit)) throw badRequest('limit param must be an integer')
        limit = Math.min(Number(q.limit), MAX_LIMIT)
      }
      if (q.marker !== undefined) {
        const m = await c.db.selectFrom('instances').select(['created_at', 'uuid']).where('uuid', '=', q.marker).executeTakeFirst()
        if (!m) throw badRequest(`Marker ${q.marker} could not be found.`)
        query = query.where((eb) => eb.or([eb('created_at', '>', m.created_at), eb.and([eb('created_at', '=', m.created_at), eb('uuid', '>', m.uuid)])]))
      }
    }
    let rows = await query.orderBy('created_at').orderBy('uuid').execute()
    if (Number.isFinite(limit)) rows = rows.slice(0, limit)
    const summaries = new Map<string, Record<string, any>>()
    for (const r of rows) {
      const f = json<FlavorSnapshot>(r.flavor, {} as FlavorSnapshot)
      const hours = hoursFor(r, start, stop)
      const ended = r.terminated_at ? Date.parse(r.terminated_at) : undefined
      const started = r.launched_at ? Date.parse(r.launched_at) : Date.parse(r.created_at)
      const info = {
        instance_id: r.uuid, name: r.display_name, tenant_id: r.project_id, hours,
        memory_mb: Number(f.memory_mb), local_gb: Number(f.root_gb) + Number(f.ephemeral_gb), vcpus: Number(f.vcpus), flavor: f.name,
        started_at: naive(started), ended_at: ended !== undefined ? naive(ended) : null,
        state: ended !== undefined ? 'terminated' : r.vm_state,
        uptime: Math.floor(((ended ?? now) - started) / 1000),
      }
      let s = summaries.get(r.project_id)
      if (!s) {
        s = { tenant_id: r.project_id, ...(detailed ? { server_usages: [] } : {}), total_local_gb_usage: 0, total_vcpus_usage: 0,
          total_memory_mb_usage: 0, total_hours: 0, start: `${naive(start)}+00:00`, stop: `${naive(stop)}+00:00` }
        summaries.set(r.project_id, s)
      }
      s.total_local_gb_usage += info.local_gb * hours
      s.total_vcpus_usage += info.vcpus * hours
      s.total_memory_mb_usage += info.memory_mb * hours
      s.total_hours += hours
      if (detailed) s.server_usages.push(info)
    }
    const next = Number.isFinite(limit) && rows.length === limit && rows.length > 0
      ? [{ rel: 'next', href: `${baseUrl(req)}/v2.1/os-simple-tenant-usage${tenant ? `/${tenant}` : ''}?${new URLSearchParams({ ...q, limit: String(limit), marker: rows.at(-1)!.uuid })}` }]
      : undefined
    return { summaries: [...summaries.values()], next }
  }

  api.get(`${P}/os-simple-tenant-usage`, { config: { policy: 'os_compute_api:os-simple-tenant-usage:list' } }, async (req) => {
    // `/os-simple-tenant-usage/` is Nova's show with an empty tenant id: 404, not the list.
    if (req.url.split('?')[0]!.endsWith('/')) throw new CloudError('NotFound', 'The resource could not be found.')
    const u = await usage(req, undefined)
    return { tenant_usages: u.summaries, ...(u.next ? { tenant_usages_links: u.next } : {}) }
  })

  api.get(`${P}/os-simple-tenant-usage/:tenant`, { config: { selfPolicy: true } }, async (req) => {
    const tenant = (req.params as { tenant: string }).tenant
    const rule = 'os_compute_api:os-simple-tenant-usage:show'
    if (!c.policy.check(rule, req.ctx, { project_id: tenant })) throw deny(rule)
    const u = await usage(req, tenant)
    return { tenant_usage: u.summaries[0] ?? {}, ...(u.next ? { tenant_usage_links: u.next } : {}) }
  })
}
