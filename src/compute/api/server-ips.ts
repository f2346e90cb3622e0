import type { Rules } from '../../core/policy.ts'
import type { Api } from '../../core/http/app.ts'
import { CloudError } from '../../core/errors.ts'
import type { ComputeCtx } from '../context.ts'
import { json } from '../instances.ts'
import type { ServerService } from '../servers.ts'
import { computeRequestId } from './servers.ts'

// Two small read APIs of a server: its addresses by network (nova/api/openstack/compute/ips.py,
// views/addresses.py basic view) and the password a guest posted to the metadata service
// (server_password.py: kept in system_metadata as password_0..password_3, 255 characters each).

const ADMIN = 'rule:context_is_admin'
const READER = `${ADMIN} or (role:reader and project_id:%(project_id)s)`
const MEMBER = `${ADMIN} or (role:member and project_id:%(project_id)s)`

/** Nova's default rules of these APIs (nova/policies/ips.py, server_password.py). */
export const serverIpsRules: Rules = {
  'os_compute_api:ips:index': READER,
  'os_compute_api:ips:show': READER,
  'os_compute_api:os-server-password:show': READER,
  'os_compute_api:os-server-password:clear': MEMBER,
}

/** system_metadata keys holding the encrypted password (nova/api/metadata/password.py). */
const PASSWORD_KEYS = ['password_0', 'password_1', 'password_2', 'password_3']

/** Each network's addresses in the basic view: only version and addr. */
function basicAddresses(raw: string | null): Record<string, Array<{ version: number; addr: string }>> {
  const a = json<Record<string, Array<{ version: number; addr: string }>>>(raw, {})
  return Object.fromEntries(Object.entries(a).map(([net, ips]) => [net, ips.map((ip) => ({ version: ip.version, addr: ip.addr }))]))
}

/** Wires GET /servers/{id}/ips, /servers/{id}/ips/{network} and GET/DELETE /servers/{id}/os-server-password. */
export function serverIpsRoutes(api: Api, c: ComputeCtx, servers: ServerService, P: string): void {
  c.policy.register(serverIpsRules)
  const cfg = { config: { selfPolicy: true }, onRequest: computeRequestId }
  const id = (req: { params: unknown }) => (req.params as { id: string }).id

  api.get(`${P}/servers/:id/ips`, cfg, async (req) => {
    const row = await servers.find(req, id(req), 'os_compute_api:ips:index')
    return { addresses: basicAddresses(row.addresses) }
  })

  api.get(`${P}/servers/:id/ips/:network`, cfg, async (req) => {
    const row = await servers.find(req, id(req), 'os_compute_api:ips:show')
    const network = (req.params as { network: string }).network
    const all = basicAddresses(row.addresses)
    if (!Object.hasOwn(all, network)) throw new CloudError('NotFound', 'Instance is not a member of specified network')
    return { [network]: all[network] }
  })

  api.get(`${P}/servers/:id/os-server-password`, cfg, async (req) => {
    const row = await servers.find(req, id(req), 'os_compute_api:os-server-password:show')
    const sys = json<Record<string, string>>(row.system_metadata, {})
    return { password: PASSWORD_KEYS.map((k) => sys[k] ?? '').join('') }
  })

  // Nova clears the password without checking the lock or the state: the guest may post a new one.
  api.delete(`${P}/servers/:id/os-server-password`, cfg, async (req, reply) => {
    const row = await servers.find(req, id(req), 'os_compute_api:os-server-password:clear')
    // Guarded on the system_metadata read, so a concurrent change of it is not lost.
    for (let attempt = 0; attempt < 5; attempt++) {
      const cur = await c.db.selectFrom('instances').select('system_metadata').where('uuid', '=', row.uuid).executeTakeFirst()
      if (!cur) break
      const sys = json<Record<string, string>>(cur.system_metadata, {})
      for (const k of PASSWORD_KEYS) sys[k] = ''
      const r = await c.db.updateTable('instances').set({ system_metadata: JSON.stringify(sys) })
        .where('uuid', '=', row.uuid).where('system_metadata', '=', cur.system_metadata).executeTakeFirst()
      if (Number(r.numUpdatedRows) > 0) return reply.code(204).send()
    }
    throw new CloudError('Conflict', `Instance ${row.uuid} is being changed by another request; try again.`)
  })
}
