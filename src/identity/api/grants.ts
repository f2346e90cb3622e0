import type { FastifyRequest } from 'fastify'
import { Type } from 'typebox'
import { CloudError, badRequest } from '../../core/errors.ts'
import type { Api } from '../../core/http/app.ts'
import {
  type ActorKind, type Grant, type GrantParties, type TargetKind, SYSTEM_TARGET, addGrant, grantExists, grantNotFound,
  grantedRoles, loadParties, removeGrant,
} from '../assignments-store.ts'
import type { IdentityCtx } from '../context.ts'
import { roleView } from '../roles-store.ts'
import { listLinks, notFoundError } from './common.ts'

// Every grant URL Keystone has:
//   /v3/{projects|domains}/{t}/{users|groups}/{a}/roles[/{r}]              PUT, GET/HEAD (check → 204), DELETE, list
//   /v3/OS-INHERIT/domains/{d}/{users|groups}/{a}/roles[/{r}]/inherited_to_projects   (with a list)
//   /v3/OS-INHERIT/projects/{p}/{users|groups}/{a}/roles/{r}/inherited_to_projects    (no list)
//   /v3/system/{users|groups}/{a}/roles[/{r}]

interface Route {
  target: TargetKind
  actor: ActorKind
  inherited: boolean
  /** Path of the collection, with :target_id and :actor_id, and what follows a role id. */
  base: string
  suffix: string
  hasList: boolean
  rules: { check: string; list: string; create: string; revoke: string }
  /**
   * Keystone's projects, domains and system APIs load the parties to build the policy
   * target and answer 404 before the policy check; OS-INHERIT checks after it.
   */
  notFoundFirst: boolean
}

const GRANT_RULES = { check: 'identity:check_grant', list: 'identity:list_grants', create: 'identity:create_grant', revoke: 'identity:revoke_grant' }
const systemRules = (a: ActorKind) => ({
  check: `identity:check_system_grant_for_${a}`, list: `identity:list_system_grants_for_${a}`,
  create: `identity:create_system_grant_for_${a}`, revoke: `identity:revoke_system_grant_for_${a}`,
})

function routes(): Route[] {
  const out: Route[] = []
  for (const actor of ['user', 'group'] as const) {
    const a = `${actor}s/:actor_id/roles`
    for (const target of ['project', 'domain'] as const) {
      out.push({ target, actor, inherited: false, base: `/v3/${target}s/:target_id/${a}`, suffix: '', hasList: true, rules: GRANT_RULES, notFoundFirst: true })
      out.push({ target, actor, inherited: true, base: `/v3/OS-INHERIT/${target}s/:target_id/${a}`, suffix: '/inherited_to_projects',
        hasList: target === 'domain', rules: GRANT_RULES, notFoundFirst: false })
    }
    out.push({ target: 'system', actor, inherited: false, base: `/v3/system/${a}`, suffix: '', hasList: true, rules: systemRules(actor), notFoundFirst: true })
  }
  return out
}

const Param = Type.String({ minLength: 1, maxLength: 255 })
const ItemParams = Type.Object({ target_id: Type.Optional(Param), actor_id: Param, role_id: Param })
const ListParams = Type.Object({ target_id: Type.Optional(Param), actor_id: Param })

type Op = 'check' | 'list' | 'create' | 'revoke'

/** Role grants on projects, domains and the system, direct and inherited (OS-INHERIT). */
export function grantRoutes(api: Api, c: IdentityCtx): void {
  const loaded = new WeakMap<FastifyRequest, GrantParties>()

  for (const r of routes()) {
    const grantOf = (req: FastifyRequest): Grant => {
      const p = req.params as { target_id?: string; actor_id: string; role_id?: string }
      return { actor: r.actor, actorId: p.actor_id, target: r.target, targetId: r.target === 'system' ? SYSTEM_TARGET : p.target_id!,
        roleId: p.role_id ?? '', inherited: r.inherited }
    }

    /**
     * The 404s Keystone gives for this route and operation, in its order. A revoke may
     * name a user or group that no longer exists (to clean up its grants).
     */
    const missing = (op: Op, g: Grant, parties: GrantParties): CloudError | undefined => {
      const role = op !== 'list' && !parties.role ? notFoundError('role', g.roleId) : undefined
      const actor = op !== 'revoke' && !parties.actor ? notFoundError(g.actor, g.actorId) : undefined
      const target = r.target === 'project' && !parties.project ? notFoundError('project', g.targetId)
        : r.target === 'domain' && !parties.domain ? notFoundError('domain', g.targetId) : undefined
      const order = r.target === 'domain' && r.notFoundFirst ? [target, role, actor] : [role, actor, target]
      return order.find((e) => e !== undefined)
    }

    const config = (op: Op) => ({
      policy: r.rules[op],
      target: async (req: FastifyRequest) => {
        const g = grantOf(req)
        const parties = await loadParties(c.db, { ...g, roleId: op === 'list' ? undefined : g.roleId })
        loaded.set(req, parties)
        if (r.notFoundFirst) { const e = missing(op, g, parties); if (e) throw e }
        return {
          ...(parties.role ? { role: { id: parties.role.id, name: parties.role.name, domain_id: parties.role.domain_id || null } } : {}),
          ...(parties.actor ? { [r.actor]: parties.actor } : {}),
          ...(parties.project ? { project: parties.project } : {}),
          ...(parties.domain ? { domain: parties.domain } : {}),
        }
      },
    })

    /** The grant and its loaded parties, after the policy check passed. */
    const prepare = (req: FastifyRequest, op: Op) => {
      const g = grantOf(req)
      const parties = loaded.get(req)!
      const e = missing(op, g, parties)
      if (e) throw e
      return { g, parties }
    }

    const item = `${r.base}/:role_id${r.suffix}`

    api.put(item, { schema: { params: ItemParams }, config: config('create') }, async (req, reply) => {
      const { g, parties } = prepare(req, 'create')
      const role = parties.role!
      if (r.target === 'project' && role.domain_id !== '' && parties.project!.domain_id !== role.domain_id) {
        throw new CloudError('Forbidden', `Project ${g.targetId} must be in the same domain as the role ${role.id} being assigned.`)
      }
      if (r.target === 'system' && role.domain_id !== '') {
        throw badRequest(`Role ${role.id} is a domain-specific role. Unable to use a domain-specific role in a system assignment.`)
      }
      await addGrant(c, g)
      reply.code(204).send()
    })

    // GET and the HEAD Fastify derives from it: 204 when the grant exists.
    api.get(item, { schema: { params: ItemParams }, config: config('check') }, async (req, reply) => {
      const { g } = prepare(req, 'check')
      if (!(await grantExists(c.db, g))) throw grantNotFound(g)
      reply.code(204).send()
    })

    api.delete(item, { schema: { params: ItemParams }, config: config('revoke') }, async (req, reply) => {
      const { g } = prepare(req, 'revoke')
      await removeGrant(c, g)
      reply.code(204).send()
    })

    if (r.hasList) {
      api.get(`${r.base}${r.suffix}`, { schema: { params: ListParams }, config: config('list') }, async (req) => {
        const { g } = prepare(req, 'list')
        const roles = await grantedRoles(c.db, g.actor, g.actorId, g.target, g.targetId, g.inherited)
        return { roles: roles.map((role) => roleView(req, role)), links: listLinks(req) }
      })
    }
  }
}
