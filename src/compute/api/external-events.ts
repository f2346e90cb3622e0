import type { Rules } from '../../core/policy.ts'
import type { Api } from '../../core/http/app.ts'
import { CloudError } from '../../core/errors.ts'
import type { ComputeCtx } from '../context.ts'
import { atLeast } from '../microversion.ts'
import type { ServerService } from '../servers.ts'
import { validateBody } from './common.ts'
import { computeRequestId } from './servers.ts'

// Two admin APIs of servers:
// - POST /os-server-external-events (server_external_events.py): the network and block storage
//   services tell Nova about a server's ports and volumes. Each event is answered per server as
//   Nova does (200 accepted, 404 no such server, 422 server on no host; the whole answer 200,
//   207 or 404). Until those services exist here (issue #5), no event has anything to act on:
//   an accepted event changes nothing.
// - GET /servers/{id}/diagnostics (server_diagnostics.py): no compute agent here reports guest
//   diagnostics, so after the checks the answer is Nova's 501 for such drivers.

const ADMIN = 'rule:context_is_admin'

/** Nova's default rules (nova/policies/server_external_events.py, server_diagnostics.py). */
export const externalEventRules: Rules = {
  'os_compute_api:os-server-external-events:create': `${ADMIN} or role:service`,
  'os_compute_api:os-server-diagnostics': ADMIN,
}

/** Event names by the microversion that introduced them (schemas/server_external_events.py). */
const NAMES: Array<[string, string]> = [['network-changed', '2.1'], ['network-vif-plugged', '2.1'], ['network-vif-unplugged', '2.1'],
  ['network-vif-deleted', '2.1'], ['volume-extended', '2.51'], ['power-update', '2.76'], ['accelerator-request-bound', '2.82'],
  ['volume-reimaged', '2.93']]

/** Wires POST /os-server-external-events and GET /servers/{id}/diagnostics. */
export function externalEventRoutes(api: Api, c: ComputeCtx, servers: ServerService, P: string): void {
  c.policy.register(externalEventRules)

  api.post(`${P}/os-server-external-events`, { config: { policy: 'os_compute_api:os-server-external-events:create' } }, async (req, reply) => {
    const names = NAMES.filter(([, v]) => atLeast(req, v)).map(([n]) => n)
    validateBody(req, {
      type: 'object', required: ['events'], additionalProperties: false,
      properties: {
        events: {
          type: 'array', minItems: 1,
          items: {
            type: 'object', required: ['server_uuid', 'name'], additionalProperties: false,
            properties: {
              server_uuid: { type: 'string', format: 'uuid' }, name: { type: 'string', enum: names },
              status: { type: 'string', enum: ['failed', 'completed', 'in-progress'] }, tag: { type: 'string', maxLength: 255 },
            },
          },
        },
      },
    })
    const events = (req.body as { events: Array<{ server_uuid: string; name: string; status?: string; tag?: string }> }).events
    const uuids = [...new Set(events.map((e) => e.server_uuid))]
    const rows = await c.db.selectFrom('instances').select(['uuid', 'host']).where('uuid', 'in', uuids).where('deleted', '=', 0).execute()
    const byUuid = new Map(rows.map((r) => [r.uuid, r]))
    const out = events.map((e) => {
      const row = byUuid.get(e.server_uuid)
      const code = !row ? 404 : !row.host ? 422 : 200
      return { server_uuid: e.server_uuid, name: e.name, status: e.status ?? 'completed', ...(e.tag !== undefined ? { tag: e.tag } : {}), code }
    })
    const accepted = out.filter((e) => e.code === 200).length
    if (accepted === 0) throw new CloudError('NotFound', 'No instances found for any event')
    return reply.code(accepted === out.length ? 200 : 207).send({ events: out })
  })

  api.get(`${P}/servers/:id/diagnostics`, { config: { selfPolicy: true }, onRequest: computeRequestId }, async (req) => {
    const row = await servers.find(req, (req.params as { id: string }).id, 'os_compute_api:os-server-diagnostics')
    if (!row.host || row.vm_state === 'building') {
      throw new CloudError('Conflict', `Cannot 'get_diagnostics' instance ${row.uuid} while it is in vm_state ${row.vm_state}`)
    }
    throw new CloudError('NotImplemented', 'Unable to get diagnostics, functionality not implemented')
  })
}
