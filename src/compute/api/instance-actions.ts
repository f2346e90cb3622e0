import type { FastifyRequest } from 'fastify'
import type { Api } from '../../core/http/app.ts'
import { CloudError, badRequest } from '../../core/errors.ts'
import type { ComputeCtx } from '../context.ts'
import { atLeast } from '../microversion.ts'
import type { Caller, ServerActionService } from '../server-actions.ts'
import type { InstanceActionEventRow, InstanceActionRow, InstanceRow } from '../schema.ts'
import { MAX_LIMIT, baseUrl, checkQueryKeys, deny, queryOf } from './common.ts'
import { hostId } from './server-views.ts'

// os-instance-actions (nova/api/openstack/compute/instance_actions.py): the actions recorded
// on a server, newest first, and one action with its events. 2.21: deleted servers too;
// 2.51: non-admins see events (without traceback); 2.58: updated_at, limit/marker and
// changes-since; 2.62: host/hostId on events; 2.66: changes-before; 2.84: event details.

/** Nova's time format for these records (oslo's PERFECT_TIME_FORMAT, no zone). */
export function novaTime(iso: string | null): string | null {
  if (!iso) return null
  const d = new Date(iso)
  return `${d.toISOString().slice(0, 19)}.${String(d.getUTCMilliseconds() * 1000).padStart(6, '0')}`
}

/** A time query parameter (ISO 8601) or Nova's 400. */
function isoParam(name: string, v: string): string {
  const t = Date.parse(/[zZ]|[+-]\d\d:?\d\d$/.test(v) ? v : `${v}Z`)
  if (!/^\d{4}-\d{2}-\d{2}/.test(v) || Number.isNaN(t)) {
    throw badRequest(`Invalid input for query parameters ${name}. Value: ${v}. '${v}' is not a 'date-time'`)
  }
  return new Date(t).toISOString()
}

/** Wires GET /servers/{id}/os-instance-actions and /os-instance-actions/{request_id}. */
export function instanceActionRoutes(api: Api, c: ComputeCtx, actions: ServerActionService, P: string): void {
  async function server(req: FastifyRequest, rule: string): Promise<InstanceRow> {
    const who: Caller = { ctx: req.ctx, token: '', requestId: req.id, isAdmin: c.policy.check('context_is_admin', req.ctx) }
    const row = await actions.load(who, (req.params as { id: string }).id, { withDeleted: atLeast(req, '2.21') })
    if (!c.policy.check(rule, req.ctx, { project_id: row.project_id })) throw deny(rule)
    return row
  }
  function actionView(req: FastifyRequest, a: InstanceActionRow): Record<string, unknown> {
    return {
      action: a.action, instance_uuid: a.uuid, request_id: a.request_id, user_id: a.user_id, project_id: a.project_id,
      start_time: novaTime(a.start_time), message: a.message,
      ...(atLeast(req, '2.58') ? { updated_at: novaTime(a.updated_at ?? a.start_time) } : {}),
    }
  }

  api.get(`${P}/servers/:id/os-instance-actions`, { config: { selfPolicy: true } }, async (req) => {
    const q = queryOf(req)
    const paged = atLeast(req, '2.58')
    const keys = paged ? ['limit', 'marker', 'changes-since', ...(atLeast(req, '2.66') ? ['changes-before'] : [])] : []
    checkQueryKeys(req, q, keys, '2.58')
    const row = await server(req, 'os_compute_api:os-instance-actions:list')
    let query = c.db.selectFrom('instance_actions').selectAll().where('uuid', '=', row.uuid)
    let limit = Infinity
    if (paged) {
      if (q.limit !== undefined) {
        if (!/^\d+$/.test(q.limit)) throw badRequest(`Invalid input for query parameters limit. Value: ${q.limit}. '${q.limit}' does not match '^[0-9]*$'`)
        limit = Math.min(Number(q.limit), MAX_LIMIT)
      } else limit = MAX_LIMIT
      const since = q['changes-since'] !== undefined ? isoParam('changes-since', q['changes-since']) : undefined
      const before = q['changes-before'] !== undefined ? isoParam('changes-before', q['changes-before']) : undefined
      if (since && before && since > before) {
        throw badRequest('The value of changes-since must be less than or equal to changes-before.')
      }
      if (since) query = query.where('updated_at', '>=', since)
      if (before) query = query.where('updated_at', '<=', before)
      if (q.marker !== undefined) {
        const m = await c.db.selectFrom('instance_actions').select(['id']).where('uuid', '=', row.uuid)
          .where('request_id', '=', q.marker).executeTakeFirst()
        if (!m) throw badRequest(`Marker ${q.marker} could not be found.`)
        query = query.where('id', '<', m.id)
      }
    }
    const found = await query.orderBy('id', 'desc').$if(Number.isFinite(limit), (qq) => qq.limit(limit)).execute()
    const body: Record<string, unknown> = { instanceActions: found.map((a) => actionView(req, a)) }
    if (paged && Number.isFinite(limit) && found.length === limit && found.length > 0) {
      const params = new URLSearchParams({ ...q, limit: String(limit), marker: found.at(-1)!.request_id })
      body.links = [{ rel: 'next', href: `${baseUrl(req)}/v2.1/servers/${row.uuid}/os-instance-actions?${params}` }]
    }
    return body
  })

  api.get(`${P}/servers/:id/os-instance-actions/:requestId`, { config: { selfPolicy: true } }, async (req) => {
    const row = await server(req, 'os_compute_api:os-instance-actions:show')
    const requestId = (req.params as { requestId: string }).requestId
    const a = await c.db.selectFrom('instance_actions').selectAll().where('uuid', '=', row.uuid)
      .where('request_id', '=', requestId).orderBy('id', 'desc').limit(1).executeTakeFirst()
    if (!a) throw new CloudError('NotFound', `Action for request_id ${requestId} on instance ${row.uuid} not found`)
    const view = actionView(req, a)
    const target = { project_id: row.project_id }
    const showEvents = c.policy.check('os_compute_api:os-instance-actions:events', req.ctx, target)
    if (showEvents || atLeast(req, '2.51')) {
      const events = await c.db.selectFrom('instance_action_events').selectAll().where('action_id', '=', a.id).orderBy('id', 'asc').execute()
      const details = atLeast(req, '2.84') && c.policy.check('os_compute_api:os-instance-actions:events:details', req.ctx, target)
      view.events = events.map((e: InstanceActionEventRow) => ({
        event: e.event, start_time: novaTime(e.start_time), finish_time: novaTime(e.finish_time), result: e.result,
        ...(showEvents ? { traceback: e.traceback } : {}),
        ...(atLeast(req, '2.62') ? { hostId: hostId(a.project_id, e.host), ...(showEvents ? { host: e.host ?? '' } : {}) } : {}),
        ...(details ? { details: e.details } : {}),
      }))
    }
    return { instanceAction: view }
  })
}
