import type { FastifyReply, FastifyRequest } from 'fastify'
import type { Api } from '../../core/http/app.ts'
import { CloudError, badRequest } from '../../core/errors.ts'
import type { ComputeCtx } from '../context.ts'
import { atLeast } from '../microversion.ts'
import { type Caller, type ServerActionService, invalidState } from '../server-actions.ts'
import type { ServerOpsService } from '../server-ops.ts'
import type { InstanceRow } from '../schema.ts'
import { type ServerService, checkLocked } from '../servers.ts'
import { deny, validateBody } from './common.ts'
import { loadViewExtras, serverView } from './server-views.ts'
import { rebuildSchema, REBOOT, RESIZE, CREATE_IMAGE, CREATE_BACKUP, LOCK, RESET_STATE, CONSOLE_OUTPUT, REMOTE_CONSOLE, adminPass } from './server-action-schemas.ts'

// POST /servers/{id}/action (nova/api/openstack/compute/servers.py, server actions' own
// controllers): one body key names the action. Order as in Nova: the body schema (400), the
// server (404), the policy (403), the state (409).

type Handler = (req: FastifyRequest, reply: FastifyReply, caller: Caller, uuid: string, body: any) => Promise<unknown>

/** Nova actions this cloud does not offer (yet): a clear 501 rather than "no such action". */
const NOT_OFFERED = ['changePassword', 'rescue', 'unrescue', 'shelve', 'shelveOffload', 'unshelve', 'migrate', 'os-migrateLive',
  'evacuate', 'addSecurityGroup', 'removeSecurityGroup', 'os-resetNetwork', 'resetNetwork', 'injectNetworkInfo',
  'trigger_crash_dump', 'addFixedIp', 'removeFixedIp', 'addFloatingIp', 'removeFloatingIp', 'os-migrate']

/** Wires the action dispatcher and remote consoles. */
export function serverActionRoutes(api: Api, c: ComputeCtx, actions: ServerActionService, ops: ServerOpsService, servers: ServerService, P: string): void {
  const caller = (req: FastifyRequest): Caller => ({
    ctx: req.ctx, token: String(req.headers['x-auth-token']), requestId: req.id,
    isAdmin: c.policy.check('context_is_admin', req.ctx),
  })
  /** Loads the server (404) and checks `rule` against its project (403). */
  async function authorize(req: FastifyRequest, who: Caller, uuid: string, rule: string): Promise<InstanceRow> {
    const row = await actions.load(who, uuid)
    if (!c.policy.check(rule, req.ctx, { project_id: row.project_id, user_id: row.user_id })) throw deny(rule)
    return row
  }
  const simple = (rule: string, run: (who: Caller, uuid: string) => Promise<unknown>): Handler =>
    async (req, reply, who, uuid) => {
      await authorize(req, who, uuid, rule)
      await run(who, uuid)
      return reply.code(202).send()
    }

  const handlers: Record<string, Handler> = {
    'os-start': simple('os_compute_api:servers:start', (w, u) => actions.start(w, u)),
    'os-stop': simple('os_compute_api:servers:stop', (w, u) => actions.stop(w, u)),
    pause: simple('os_compute_api:os-pause-server:pause', (w, u) => actions.pause(w, u)),
    unpause: simple('os_compute_api:os-pause-server:unpause', (w, u) => actions.unpause(w, u)),
    suspend: simple('os_compute_api:os-suspend-server:suspend', (w, u) => actions.suspend(w, u)),
    resume: simple('os_compute_api:os-suspend-server:resume', (w, u) => actions.resume(w, u)),
    reboot: async (req, reply, who, uuid, body) => {
      validateBody(req, REBOOT)
      await authorize(req, who, uuid, 'os_compute_api:servers:reboot')
      await actions.reboot(who, uuid, String(body.reboot.type).toUpperCase() as 'SOFT' | 'HARD')
      return reply.code(202).send()
    },
    lock: async (req, reply, who, uuid, body) => {
      if (atLeast(req, '2.73')) validateBody(req, LOCK)
      const row = await authorize(req, who, uuid, 'os_compute_api:os-lock-server:lock')
      await actions.lock(who, row, atLeast(req, '2.73') ? body.lock?.locked_reason : undefined)
      return reply.code(202).send()
    },
    unlock: async (req, reply, who, uuid) => {
      const row = await authorize(req, who, uuid, 'os_compute_api:os-lock-server:unlock')
      if (!actions.lockedByCaller(who, row)) {
        const r = 'os_compute_api:os-lock-server:unlock:unlock_override'
        if (!c.policy.check(r, req.ctx, { project_id: row.project_id })) throw deny(r)
      }
      await actions.unlock(who, row)
      return reply.code(202).send()
    },
    'os-resetState': async (req, reply, who, uuid, body) => {
      validateBody(req, RESET_STATE)
      await authorize(req, who, uuid, 'os_compute_api:os-admin-actions:reset_state')
      await actions.resetState(who, uuid, body['os-resetState'].state)
      return reply.code(202).send()
    },
    rebuild: async (req, reply, who, uuid, body) => {
      validateBody(req, rebuildSchema(req))
      await authorize(req, who, uuid, 'os_compute_api:servers:rebuild')
      const b = body.rebuild
      const pass = b.adminPass ?? adminPass()
      const row = await ops.rebuild(who, uuid, {
        imageRef: String(b.imageRef).replace(/^.*\/images\//, ''), name: b.name, metadata: b.metadata,
        description: atLeast(req, '2.19') ? b.description : undefined,
        keyName: atLeast(req, '2.54') ? b.key_name : undefined,
        userData: atLeast(req, '2.57') ? b.user_data : undefined,
        accessIPv4: b.accessIPv4, accessIPv6: b.accessIPv6, diskConfig: b['OS-DCF:diskConfig'],
      })
      const extras = (await loadViewExtras(c, req, [row])).get(row.uuid)!
      const server = serverView(req, row, extras, 'rebuild')
      if (atLeast(req, '2.54')) server.key_name = row.key_name
      if (atLeast(req, '2.57')) server.user_data = row.user_data
      server.adminPass = pass
      return reply.code(202).send({ server })
    },
    resize: async (req, reply, who, uuid, body) => {
      validateBody(req, RESIZE)
      await authorize(req, who, uuid, 'os_compute_api:servers:resize')
      await ops.resize(who, uuid, String(body.resize.flavorRef), body.resize['OS-DCF:diskConfig'])
      return reply.code(202).send()
    },
    confirmResize: async (req, reply, who, uuid) => {
      await authorize(req, who, uuid, 'os_compute_api:servers:confirm_resize')
      await ops.confirmResize(who, uuid)
      return reply.code(204).send()
    },
    revertResize: async (req, reply, who, uuid) => {
      await authorize(req, who, uuid, 'os_compute_api:servers:revert_resize')
      await ops.revertResize(who, uuid)
      return reply.code(202).send()
    },
    createImage: async (req, reply, who, uuid, body) => {
      validateBody(req, CREATE_IMAGE)
      await authorize(req, who, uuid, 'os_compute_api:servers:create_image')
      const id = await ops.createImage(who, uuid, body.createImage.name, body.createImage.metadata ?? {})
      if (atLeast(req, '2.45')) return reply.code(202).send({ image_id: id })
      const glance = (c.glance as unknown as { baseUrl: string }).baseUrl
      return reply.code(202).header('location', `${glance}/images/${id}`).send()
    },
    createBackup: async (req, reply, who, uuid, body) => {
      validateBody(req, CREATE_BACKUP)
      await authorize(req, who, uuid, 'os_compute_api:os-create-backup')
      const b = body.createBackup
      const rotation = Number(b.rotation)
      const id = await ops.createImage(who, uuid, b.name, b.metadata ?? {}, { type: b.backup_type, rotation })
      if (atLeast(req, '2.45')) return reply.code(202).send({ image_id: id })
      // Before 2.45 a Location header, and none when rotation 0 (Nova's create_backup.py).
      const glance = (c.glance as unknown as { baseUrl: string }).baseUrl
      if (rotation > 0) reply.header('location', `${glance}/images/${id}`)
      return reply.code(202).send()
    },
    'os-getConsoleOutput': async (req, reply, who, uuid, body) => {
      validateBody(req, CONSOLE_OUTPUT)
      await authorize(req, who, uuid, 'os_compute_api:os-console-output')
      const raw = body['os-getConsoleOutput'].length
      const length = raw === undefined || raw === null ? undefined : Number(raw)
      return reply.code(200).send({ output: await ops.consoleOutput(who, uuid, length) })
    },
    restore: async (req, _reply, who, uuid) => {
      const row = await authorize(req, who, uuid, 'os_compute_api:os-deferred-delete:restore')
      throw invalidState('restore', uuid, 'vm_state', row.vm_state)
    },
    forceDelete: async (req, reply, who, uuid) => {
      // Nova's force_delete deletes any server (deferred delete is off here, so none is ever
      // SOFT_DELETED), refusing a locked one to non-admins; the delete itself is the normal one.
      const row = await authorize(req, who, uuid, 'os_compute_api:os-deferred-delete:force')
      checkLocked(c, req, row)
      await servers.delete(req, row)
      return reply.code(202).send()
    },
  }
  for (const t of ['os-getVNCConsole', 'os-getSPICEConsole', 'os-getRDPConsole', 'os-getSerialConsole']) {
    handlers[t] = async (req, _reply, who, uuid, body) => {
      const type = body?.[t]?.type
      if (typeof type !== 'string') throw badRequest(`Invalid input for field/attribute ${t}. 'type' is a required property`)
      await authorize(req, who, uuid, 'os_compute_api:os-remote-consoles')
      throw badRequest(`Unavailable console type ${type}.`)
    }
  }

  api.post(`${P}/servers/:id/action`, { config: { selfPolicy: true } }, async (req, reply) => {
    const body = req.body
    if (!body || typeof body !== 'object' || Array.isArray(body)) throw badRequest('Malformed request body')
    const name = Object.keys(body).find((k) => k in handlers || NOT_OFFERED.includes(k))
    if (!name) throw badRequest(`There is no such action: ${Object.keys(body)[0] ?? ''}`)
    const who = caller(req)
    const uuid = (req.params as { id: string }).id
    if (!(name in handlers)) {
      // An unknown server is still Nova's 404, whatever the action.
      await actions.load(who, uuid)
      throw new CloudError('NotImplemented', `The '${name}' server action is not offered by this cloud.`)
    }
    return handlers[name]!(req, reply, who, uuid, body)
  })

  // 2.6+: one endpoint for every console protocol. No console proxy exists here, so every
  // protocol is unavailable, with Nova's message for a disabled console type.
  api.post(`${P}/servers/:id/remote-consoles`, { config: { selfPolicy: true } }, async (req) => {
    if (!atLeast(req, '2.6')) throw new CloudError('NotFound', 'The resource could not be found.')
    validateBody(req, REMOTE_CONSOLE)
    const who = caller(req)
    await authorize(req, who, (req.params as { id: string }).id, 'os_compute_api:os-remote-consoles')
    throw badRequest(`Unavailable console type ${(req.body as any).remote_console.type}.`)
  })
}
