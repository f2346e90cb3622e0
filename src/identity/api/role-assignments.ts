import type { FastifyContextConfig, FastifyRequest } from 'fastify'
import type { Kysely } from 'kysely'
import { Type } from 'typebox'
import { badRequest } from '../../core/errors.ts'
import type { Api } from '../../core/http/app.ts'
import type { IdentityCtx } from '../context.ts'
import { type AssignmentFilters, type AssignmentRef, listRoleAssignments } from '../role-assignments-query.ts'
import type { IdentitySchema } from '../schema.ts'
import { listLinks, notFoundError, selfLink } from './common.ts'

const IdString = Type.String({ minLength: 1, maxLength: 64, pattern: '^[a-zA-Z0-9-]+$' })
// keystone/assignment/schema.py role_assignments_index_request_query; other keys are ignored.
const Query = Type.Object({
  'user.id': Type.Optional(Type.String()),
  'group.id': Type.Optional(IdString),
  'role.id': Type.Optional(IdString),
  'scope.project.id': Type.Optional(IdString),
  'scope.domain.id': Type.Optional(IdString),
  'scope.system': Type.Optional(Type.String()),
  'scope.OS-INHERIT:inherited_to': Type.Optional(Type.String()),
  effective: Type.Optional(Type.String()),
  include_names: Type.Optional(Type.String()),
  include_subtree: Type.Optional(Type.String()),
})
type Q = Partial<Record<'user.id' | 'group.id' | 'role.id' | 'scope.project.id' | 'scope.domain.id' | 'scope.system' |
  'scope.OS-INHERIT:inherited_to' | 'effective' | 'include_names' | 'include_subtree', string>>

/** Keystone's query_filter_is_true: a key-only flag is true unless its value is '0'. */
const flag = (q: Q, k: keyof Q): boolean => q[k] !== undefined && q[k] !== '0'

/** The handler picks the rule: include_subtree has its own (with the project as target). */
const SELF_POLICY: FastifyContextConfig = { selfPolicy: true }

/** `GET /v3/role_assignments`. */
export function roleAssignmentRoutes(api: Api, c: IdentityCtx): void {
  api.get('/v3/role_assignments', { schema: { querystring: Query }, config: SELF_POLICY }, async (req) => {
    const q = req.query as Q
    const subtree = flag(q, 'include_subtree')
    if (subtree) {
      const projectId = q['scope.project.id']
      let target: Record<string, unknown> = {}
      if (projectId) {
        const project = await c.db.selectFrom('projects').select(['id', 'name', 'domain_id', 'parent_id'])
          .where('id', '=', projectId).executeTakeFirst()
        if (!project) throw notFoundError('project', projectId)
        target = { project, domain_id: project.domain_id }
      }
      c.policy.enforce('identity:list_role_assignments_for_tree', req.ctx, target)
      if (!projectId) throw badRequest('scope.project.id must be specified if include_subtree is also specified')
    } else {
      // A domain-scoped caller sees the assignments of its domain only (filtered below).
      c.policy.enforce('identity:list_role_assignments', req.ctx, { domain_id: req.ctx.domainId ?? q['scope.domain.id'] })
    }

    if (q['scope.domain.id'] && q['scope.project.id']) throw badRequest('Specify a domain or project, not both')
    if (q['scope.domain.id'] && q['scope.system']) throw badRequest('Specify system or domain, not both')
    if (q['scope.project.id'] && q['scope.system']) throw badRequest('Specify system or project, not both')
    if (q['user.id'] && q['group.id']) throw badRequest('Specify a user or group, not both')
    const effective = flag(q, 'effective')
    const inherited = 'scope.OS-INHERIT:inherited_to' in q ? q['scope.OS-INHERIT:inherited_to'] === 'projects' : undefined
    if (effective && q['group.id']) throw badRequest('Combining effective and group filter will always result in an empty list.')
    if (effective && inherited && q['scope.domain.id']) {
      throw badRequest('Combining effective, domain and inherited filters will always result in an empty list.')
    }

    const f: AssignmentFilters = {
      userId: q['user.id'] || undefined, groupId: q['group.id'] || undefined, roleId: q['role.id'] || undefined,
      projectId: q['scope.project.id'] || undefined, domainId: q['scope.domain.id'] || undefined,
      system: q['scope.system'] === 'all', inherited, effective, includeSubtree: subtree,
    }
    let refs = await listRoleAssignments(c.db, f)
    const lookups = await loadNames(c.db, refs, flag(q, 'include_names'))
    if (!subtree && req.ctx.domainId) {
      const d = req.ctx.domainId
      refs = refs.filter((r) => r.domainId === d || (r.projectId !== undefined && lookups.projects.get(r.projectId)?.domain_id === d))
    }
    return { role_assignments: refs.map((r) => format(req, r, lookups)), links: listLinks(req) }
  })
}

interface Named { name: string; domain_id: string }
interface Lookups {
  names: boolean
  users: Map<string, Named>
  groups: Map<string, Named>
  projects: Map<string, Named>
  roles: Map<string, Named>
  domains: Map<string, string>
}

/**
 * Everything the listing names, fetched with one IN query per table: project domains are
 * always needed (a domain-scoped caller's filter); names only with include_names.
 */
async function loadNames(db: Kysely<IdentitySchema>, refs: AssignmentRef[], names: boolean): Promise<Lookups> {
  const ids = (pick: (r: AssignmentRef) => string | undefined) => [...new Set(refs.map(pick).filter((x): x is string => !!x))]
  const projectIds = ids((r) => r.projectId)
  const fetch = async (table: 'users' | 'groups' | 'projects' | 'roles', list: string[]) => {
    if (list.length === 0) return new Map<string, Named>()
    const rows = await db.selectFrom(table).select(['id', 'name', 'domain_id']).where('id', 'in', list).execute()
    return new Map(rows.map((r) => [r.id, { name: r.name, domain_id: r.domain_id }]))
  }
  const projects = await fetch('projects', projectIds)
  const l: Lookups = { names, users: new Map(), groups: new Map(), projects, roles: new Map(), domains: new Map() }
  if (!names) return l
  l.users = await fetch('users', ids((r) => r.userId))
  l.groups = await fetch('groups', ids((r) => r.groupId))
  l.roles = await fetch('roles', ids((r) => r.roleId))
  const domainIds = new Set(ids((r) => r.domainId))
  for (const m of [l.users, l.groups, l.projects, l.roles]) for (const v of m.values()) if (v.domain_id) domainIds.add(v.domain_id)
  if (domainIds.size > 0) {
    for (const d of await db.selectFrom('domains').select(['id', 'name']).where('id', 'in', [...domainIds]).execute()) l.domains.set(d.id, d.name)
  }
  return l
}

/** Keystone's RoleAssignmentsResource._format_entity, links included. */
function format(req: FastifyRequest, r: AssignmentRef, l: Lookups) {
  const links: Record<string, string> = {}
  const scope: Record<string, unknown> = {}
  const out: Record<string, unknown> = { links, scope }
  const dom = (id: string) => ({ id, name: l.domains.get(id) ?? '' })
  const named = (m: Map<string, Named>, id: string) => {
    const v = m.get(id)
    return l.names ? { id, name: v?.name ?? '', domain: dom(v?.domain_id ?? '') } : { id }
  }
  let link = ''
  let inherited = !!r.inherited
  if (r.projectId) {
    scope.project = named(l.projects, r.projectId)
    if (r.indirect?.domainId) { inherited = true; link = `/domains/${r.indirect.domainId}` }
    else if (r.indirect?.projectId) { inherited = true; link = `/projects/${r.indirect.projectId}` }
    else link = `/projects/${r.projectId}`
  } else if (r.domainId) {
    scope.domain = l.names ? dom(r.domainId) : { id: r.domainId }
    link = `/domains/${r.domainId}`
  } else if (r.system) {
    scope.system = { all: true }
    link = '/system'
  }
  if (r.userId) {
    out.user = named(l.users, r.userId)
    if (r.indirect?.groupId) {
      links.membership = selfLink(req, `/groups/${r.indirect.groupId}/users/${r.userId}`).self
      link += `/groups/${r.indirect.groupId}`
    } else {
      link += `/users/${r.userId}`
    }
  } else if (r.groupId) {
    out.group = named(l.groups, r.groupId)
    link += `/groups/${r.groupId}`
  }
  const role = l.roles.get(r.roleId)
  out.role = !l.names ? { id: r.roleId }
    : { id: r.roleId, name: role?.name ?? '', ...(role?.domain_id ? { domain: dom(role.domain_id) } : {}) }
  let priorRole = ''
  if (r.indirect?.roleId) {
    link += `/roles/${r.indirect.roleId}`
    // Keystone's own form of this link, kept as is (prior and implied in this order).
    priorRole = `/prior_role/${r.roleId}/implies/${r.indirect.roleId}`
  } else {
    link += `/roles/${r.roleId}`
  }
  if (inherited) {
    scope['OS-INHERIT:inherited_to'] = 'projects'
    link = `/OS-INHERIT${link}/inherited_to_projects`
  }
  links.assignment = selfLink(req, link).self
  if (priorRole) links.prior_role = selfLink(req, priorRole).self
  return out
}
