import type { Kysely } from 'kysely'
import { notFoundError } from './api/common.ts'
import {
  DOMAIN_TYPES, GROUP_TYPES, PROJECT_TYPES, SYSTEM_TYPES, USER_TYPES,
} from './assignments-store.ts'
import { type TreeNode, impliedRules, projectChain, projectDescendants } from './effective-roles.ts'
import type { AssignmentRow, IdentitySchema } from './schema.ts'

// GET /v3/role_assignments, as keystone.assignment.core.Manager.list_role_assignments
// computes it: direct assignments filtered, or (effective) groups expanded into their
// members, inherited assignments placed on the projects they apply to, implied roles
// added and domain-specific roles dropped. Every step is a bounded number of queries
// (IN lists, joins and recursive CTEs), never a query per project or per row.

/** The list's filters, already checked for contradictions. */
export interface AssignmentFilters {
  userId?: string
  groupId?: string
  roleId?: string
  projectId?: string
  domainId?: string
  /** scope.system=all */
  system?: boolean
  /** scope.OS-INHERIT:inherited_to: true = 'projects', false = any other value, undefined = absent. */
  inherited?: boolean
  effective?: boolean
  includeSubtree?: boolean
}

/**
 * One assignment in Keystone's internal form. `indirect` says where an effective one
 * came from: a group membership, a domain or parent project it was inherited from, or
 * the prior role that implies it.
 */
export interface AssignmentRef {
  roleId: string
  userId?: string
  groupId?: string
  projectId?: string
  domainId?: string
  system?: boolean
  /** The assignment itself is inherited to projects (only in non-effective listings). */
  inherited?: boolean
  indirect?: { groupId?: string; projectId?: string; domainId?: string; roleId?: string }
}

type Db = Kysely<IdentitySchema>

function refOf(a: AssignmentRow): AssignmentRef {
  const ref: AssignmentRef = { roleId: a.role_id }
  if (a.type.startsWith('User')) ref.userId = a.actor_id; else ref.groupId = a.actor_id
  if (a.type.endsWith('Project')) ref.projectId = a.target_id
  else if (a.type.endsWith('Domain')) ref.domainId = a.target_id
  else ref.system = true
  if (a.inherited) ref.inherited = true
  return ref
}

/** Lists role assignments as Keystone does; see the file comment. */
export async function listRoleAssignments(db: Db, f: AssignmentFilters): Promise<AssignmentRef[]> {
  let subtree: string[] | undefined
  if (f.projectId && f.includeSubtree) subtree = (await projectDescendants(db, [f.projectId])).get(f.projectId) ?? []
  return f.effective ? listEffective(db, f, subtree) : listDirect(db, f, subtree)
}

async function listDirect(db: Db, f: AssignmentFilters, subtree: string[] | undefined): Promise<AssignmentRef[]> {
  let q = db.selectFrom('assignments').selectAll()
  if (f.system) q = q.where('type', 'in', SYSTEM_TYPES)
  else if (f.projectId) q = q.where('type', 'in', PROJECT_TYPES).where('target_id', 'in', [f.projectId, ...(subtree ?? [])])
  else if (f.domainId) q = q.where('type', 'in', DOMAIN_TYPES).where('target_id', '=', f.domainId)
  if (f.userId) q = q.where('actor_id', '=', f.userId).where('type', 'in', USER_TYPES)
  if (f.groupId) q = q.where('actor_id', '=', f.groupId).where('type', 'in', GROUP_TYPES)
  if (f.roleId) q = q.where('role_id', '=', f.roleId)
  if (f.inherited !== undefined) q = q.where('inherited', '=', f.inherited ? 1 : 0)
  return (await q.execute()).map(refOf)
}

async function listEffective(db: Db, f: AssignmentFilters, subtree: string[] | undefined): Promise<AssignmentRef[]> {
  // Groups never appear in an effective listing; domains inherit nothing.
  if (f.groupId || (f.domainId && f.inherited)) return []
  const inherited = f.domainId ? false : f.inherited

  // The project filter: its domain and ancestors are where inherited assignments come from.
  let chain: TreeNode[] = []
  if (f.projectId && inherited !== false) {
    chain = await projectChain(db, f.projectId)
    if (chain.length === 0) throw notFoundError('project', f.projectId)
  }
  const ofInterest = f.projectId ? [f.projectId, ...(subtree ?? [])] : []

  let q = db.selectFrom('assignments').selectAll()
  if (f.userId) {
    const userId = f.userId
    q = q.where((eb) => eb.or([
      eb('actor_id', '=', userId),
      eb('actor_id', 'in', eb.selectFrom('user_groups').select('user_groups.group_id').where('user_groups.user_id', '=', userId)),
    ]))
  }
  q = q.where((eb) => {
    const terms = []
    if (f.system) {
      terms.push(eb('type', 'in', SYSTEM_TYPES))
    } else {
      if (inherited !== true) {
        const direct = [eb('inherited', '=', 0)]
        if (f.projectId) direct.push(eb('type', 'in', PROJECT_TYPES), eb('target_id', 'in', ofInterest))
        else if (f.domainId) direct.push(eb('type', 'in', DOMAIN_TYPES), eb('target_id', '=', f.domainId))
        else direct.push(eb('type', 'in', [...PROJECT_TYPES, ...DOMAIN_TYPES]))
        terms.push(eb.and(direct))
      }
      if (inherited !== false) {
        if (f.projectId) {
          const [project, ...ancestors] = chain
          const sources = [...ancestors.map((a) => a.id), ...(subtree ? ofInterest : [])]
          terms.push(eb.and([eb('inherited', '=', 1), eb('type', 'in', DOMAIN_TYPES), eb('target_id', '=', project!.domain_id)]))
          if (sources.length > 0) terms.push(eb.and([eb('inherited', '=', 1), eb('type', 'in', PROJECT_TYPES), eb('target_id', 'in', sources)]))
        } else {
          terms.push(eb.and([eb('inherited', '=', 1), eb('type', 'in', [...PROJECT_TYPES, ...DOMAIN_TYPES])]))
        }
      }
    }
    return eb.or(terms)
  })
  const rows = (await q.execute()).map(refOf)
  if (rows.length === 0) return []

  // Who is behind each group (the filtered user alone when there is one), in one query.
  const members = new Map<string, string[]>()
  if (!f.userId) {
    const groupIds = [...new Set(rows.filter((r) => r.groupId).map((r) => r.groupId!))]
    if (groupIds.length > 0) {
      for (const m of await db.selectFrom('user_groups').select(['group_id', 'user_id']).where('group_id', 'in', groupIds).execute()) {
        const l = members.get(m.group_id); if (l) l.push(m.user_id); else members.set(m.group_id, [m.user_id])
      }
    }
  }

  // Where each inherited assignment lands.
  const landing = await inheritedLanding(db, rows.filter((r) => r.inherited), f.projectId ? { ofInterest, subtree } : undefined)

  const expanded: AssignmentRef[] = []
  for (const row of rows) {
    const users = row.groupId ? (f.userId ? [f.userId] : members.get(row.groupId) ?? []) : [row.userId!]
    for (const userId of users) {
      const base: AssignmentRef = { roleId: row.roleId, userId, ...(row.groupId ? { indirect: { groupId: row.groupId } } : {}) }
      if (!row.inherited) {
        expanded.push({ ...base, projectId: row.projectId, domainId: row.domainId, system: row.system })
        continue
      }
      const from = row.projectId ? { projectId: row.projectId } : { domainId: row.domainId }
      for (const projectId of landing.get(row) ?? []) {
        expanded.push({ ...base, projectId, indirect: { ...base.indirect, ...from } })
      }
    }
  }
  for (const r of expanded) for (const k of ['projectId', 'domainId', 'system'] as const) if (r[k] === undefined) delete r[k]

  const withImplied = await addImpliedRoles(db, expanded)
  const roleIds = [...new Set(withImplied.map((r) => r.roleId))]
  const global = new Set((await db.selectFrom('roles').select('id').where('id', 'in', roleIds).where('domain_id', '=', '').execute()).map((r) => r.id))
  return withImplied.filter((r) => global.has(r.roleId) && (!f.roleId || r.roleId === f.roleId))
}

/**
 * The projects each inherited assignment applies to. With a project filter: that project
 * (and its subtree when asked), or only the part of the subtree below the assignment
 * point when the point lies inside it. Otherwise: every project of the domain, or every
 * project below the project.
 */
async function inheritedLanding(db: Db, refs: AssignmentRef[], filter?: { ofInterest: string[]; subtree?: string[] }): Promise<Map<AssignmentRef, string[]>> {
  const out = new Map<AssignmentRef, string[]>()
  if (refs.length === 0) return out
  if (filter) {
    const inside = filter.subtree ? refs.filter((r) => r.projectId && filter.ofInterest.includes(r.projectId)) : []
    const below = await projectDescendants(db, [...new Set(inside.map((r) => r.projectId!))])
    for (const r of refs) out.set(r, inside.includes(r) ? below.get(r.projectId!) ?? [] : filter.ofInterest)
    return out
  }
  const domains = [...new Set(refs.filter((r) => r.domainId).map((r) => r.domainId!))]
  const byDomain = new Map<string, string[]>()
  if (domains.length > 0) {
    for (const p of await db.selectFrom('projects').select(['id', 'domain_id']).where('domain_id', 'in', domains)
      .where('is_domain', '=', 0).orderBy('name').execute()) {
      const l = byDomain.get(p.domain_id); if (l) l.push(p.id); else byDomain.set(p.domain_id, [p.id])
    }
  }
  const below = await projectDescendants(db, [...new Set(refs.filter((r) => r.projectId).map((r) => r.projectId!))])
  for (const r of refs) out.set(r, r.domainId ? byDomain.get(r.domainId) ?? [] : below.get(r.projectId!) ?? [])
  return out
}

/**
 * Keystone's add_implied_roles: each assignment is copied once per role its role implies
 * (transitively), the copy's `indirect.roleId` naming the immediate prior role. A copy
 * already produced is not followed again, which ends cycles.
 */
async function addImpliedRoles(db: Db, refs: AssignmentRef[]): Promise<AssignmentRef[]> {
  const rules = await impliedRules(db, refs.map((r) => r.roleId))
  if (rules.size === 0) return refs
  const key = (r: AssignmentRef) => JSON.stringify([r.roleId, r.userId, r.groupId, r.projectId, r.domainId, r.system,
    r.indirect?.groupId, r.indirect?.projectId, r.indirect?.domainId, r.indirect?.roleId])
  const out = [...refs]
  const seen = new Set(refs.map(key))
  const todo = [...refs]
  while (todo.length > 0) {
    const ref = todo.pop()!
    for (const implied of rules.get(ref.roleId) ?? []) {
      const copy: AssignmentRef = { ...ref, roleId: implied, indirect: { ...ref.indirect, roleId: ref.roleId } }
      const k = key(copy)
      if (seen.has(k)) continue
      seen.add(k)
      out.push(copy)
      todo.push(copy)
    }
  }
  return out
}
