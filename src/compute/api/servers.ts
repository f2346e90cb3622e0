import type { FastifyReply, FastifyRequest } from 'fastify'
import type { Api } from '../../core/http/app.ts'
import { bodyOf } from '../../core/http/app.ts'
import { badRequest } from '../../core/errors.ts'
import { isIPv4, isIPv6 } from 'node:net'
import type { ComputeCtx } from '../context.ts'
import { atLeast } from '../microversion.ts'
import type { QuotaService } from '../quotas.ts'
import { canonicalIPv6, createSchemaFor, prepareCreate } from '../server-create.ts'
import { listServers } from '../server-list.ts'
import { ServerService, checkLocked } from '../servers.ts'
import { baseUrl, deny, links, nextLinks, queryOf, validateBody } from './common.ts'
import { loadViewExtras, serverBrief, serverView } from './server-views.ts'

// /servers (nova/api/openstack/compute/servers.py): create, list, detail, show, update,
// delete. The answers are built by server-views.ts.

const NAME = { type: 'string', minLength: 1, maxLength: 255, pattern: '^(?!\\s)[^\\x00-\\x1F\\x7F]*(?<!\\s)$' }
const DESCRIPTION = { type: ['string', 'null'], minLength: 0, maxLength: 255, pattern: '^[^\\x00-\\x1F\\x7F]*$' }
const HOSTNAME = { type: 'string', minLength: 2, maxLength: 63, pattern: '^[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?$' }

const updateSchemas = new Map<string, object>()
function updateSchema(req: FastifyRequest): object {
  const k = atLeast(req, '2.90') ? '2.90' : atLeast(req, '2.19') ? '2.19' : '2.1'
  let s = updateSchemas.get(k)
  if (!s) {
    const props: Record<string, unknown> = {
      name: NAME, accessIPv4: { type: 'string' }, accessIPv6: { type: 'string' },
      'OS-DCF:diskConfig': { type: 'string', enum: ['AUTO', 'MANUAL'] },
    }
    if (k !== '2.1') props.description = DESCRIPTION
    if (k === '2.90') props.hostname = HOSTNAME
    s = {
      type: 'object', required: ['server'], additionalProperties: false,
      properties: { server: { type: 'object', additionalProperties: false, properties: props } },
    }
    updateSchemas.set(k, s)
  }
  return s
}

/** Nova answers every request with its id in both headers. */
export async function computeRequestId(req: FastifyRequest, reply: FastifyReply): Promise<void> {
  reply.header('x-compute-request-id', req.id)
}

/** Wires the servers routes under `P` (/v2.1). */
export function serverRoutes(api: Api, c: ComputeCtx, servers: ServerService, quotas: QuotaService, P: string): void {
  const own = (req: FastifyRequest) => ({ project_id: req.ctx.projectId })
  const check = (req: FastifyRequest, rule: string) => { if (!c.policy.check(rule, req.ctx, own(req))) throw deny(rule) }
  const cfg = { config: { selfPolicy: true }, onRequest: computeRequestId }

  // The body is checked before the policy, as Nova's schema decorator does.
  api.post(`${P}/servers`, { ...cfg, preValidation: async (req) => validateBody(req, createSchemaFor(req)) }, async (req, reply) => {
    check(req, 'os_compute_api:servers:create')
    const prepared = await prepareCreate(c, req, quotas)
    const rows = await servers.create(req, prepared)
    reply.code(202)
    if (prepared.returnReservationId) return { reservation_id: prepared.reservationId }
    const first = rows[0]!
    reply.header('location', `${baseUrl(req)}/v2.1/servers/${first.uuid}`)
    return {
      server: {
        id: first.uuid, links: links(req, 'servers', first.uuid),
        'OS-DCF:diskConfig': (JSON.parse(first.system_metadata) as Record<string, string>).disk_config ?? 'MANUAL',
        security_groups: prepared.securityGroups,
        adminPass: prepared.adminPass,
      },
    }
  })

  api.get(`${P}/servers`, cfg, async (req) => {
    check(req, 'os_compute_api:servers:index')
    const { rows, limit } = await listServers(c, req, false)
    const next = nextLinks(req, 'servers', queryOf(req), { limit }, rows.length, rows.at(-1)?.uuid)
    return { servers: rows.map((r) => serverBrief(req, r)), ...(next ? { servers_links: next } : {}) }
  })

  api.get(`${P}/servers/detail`, cfg, async (req) => {
    check(req, 'os_compute_api:servers:detail')
    const { rows, limit } = await listServers(c, req, true)
    const extras = await loadViewExtras(c, req, rows)
    const next = nextLinks(req, 'servers/detail', queryOf(req), { limit }, rows.length, rows.at(-1)?.uuid)
    return { servers: rows.map((r) => serverView(req, r, extras.get(r.uuid)!, 'list')), ...(next ? { servers_links: next } : {}) }
  })

  api.get(`${P}/servers/:id`, cfg, async (req) => {
    const row = await servers.find(req, (req.params as { id: string }).id, 'os_compute_api:servers:show')
    const extras = await loadViewExtras(c, req, [row])
    return { server: serverView(req, row, extras.get(row.uuid)!) }
  })

  api.put(`${P}/servers/:id`, { ...cfg, preValidation: async (req) => validateBody(req, updateSchema(req)) }, async (req) => {
    const row = await servers.find(req, (req.params as { id: string }).id, 'os_compute_api:servers:update')
    const b = bodyOf<{ server: { name?: string; description?: string | null; accessIPv4?: string; accessIPv6?: string
      'OS-DCF:diskConfig'?: string; hostname?: string } }>(req).server
    if (b.accessIPv4 !== undefined && !isIPv4(b.accessIPv4)) {
      throw badRequest(`Invalid input for field/attribute accessIPv4. Value: ${b.accessIPv4}. '${b.accessIPv4}' is not a 'ipv4'`)
    }
    if (b.accessIPv6 !== undefined && !isIPv6(b.accessIPv6)) {
      throw badRequest(`Invalid input for field/attribute accessIPv6. Value: ${b.accessIPv6}. '${b.accessIPv6}' is not a 'ipv6'`)
    }
    const patch: Parameters<ServerService['update']>[1] = {}
    if (b.name !== undefined) patch.display_name = b.name
    if (b.description !== undefined) patch.display_description = b.description
    if (b.accessIPv4 !== undefined) patch.access_ip_v4 = b.accessIPv4
    if (b.accessIPv6 !== undefined) patch.access_ip_v6 = canonicalIPv6(b.accessIPv6)
    if (b.hostname !== undefined) patch.hostname = b.hostname
    const updated = await servers.update(row, patch, b['OS-DCF:diskConfig'])
    const extras = await loadViewExtras(c, req, [updated])
    return { server: serverView(req, updated, extras.get(updated.uuid)!, 'update') }
  })

  api.delete(`${P}/servers/:id`, cfg, async (req, reply) => {
    const row = await servers.find(req, (req.params as { id: string }).id, 'os_compute_api:servers:delete')
    checkLocked(c, req, row)
    await servers.delete(req, row)
    reply.code(204)
    return reply.send()
  })
}
