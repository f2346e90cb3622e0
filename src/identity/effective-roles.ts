import type { Kysely } from 'kysely'
import type { IdentitySchema, RoleRow } from './schema.ts'

export type Scope =
  | { project: string }
  | { domain: string }
  | { system: true }

/** A project as the tree walks see it. */
export interface TreeNode { id: string; domain_id: string; parent_id: string | null }

/**
 * A project and its ancestors in one recursive query, the project first and then its
 * parents nearest first; empty when the project does not exist. UNION (not UNION ALL)
 * stops a cycle, which the API never creates anyway.
 */
export async function projectChain(db: Kysely<IdentitySchema>, projectId: string): Promise<TreeNode[]> {
  const rows = await db
    .withRecursive('chain(id, domain_id, parent_id)', (qb) => qb.selectFrom('projects')
      .select(['projects.id', 'projects.domain_id', 'projects.parent_id']).where('projects.id', '=', projectId)
      .union(qb.selectFrom('projects').innerJoin('chain', 'chain.parent_id', 'projects.id')
        .select(['projects.id', 'projects.domain_id', 'projects.parent_id'])))
    .selectFrom('chain').select(['chain.id', 'chain.domain_id', 'chain.parent_id']).execute()
  // Order the rows by walking the parent links from the project.
  const byId = new Map(rows.map((r) => [r.id, r]))
  const out: TreeNode[] = []
  let cur = byId.get(projectId)
  while (cur && !out.includes(cur)) {
    out.push(cur)
    cur = cur.parent_id ? byId.get(cur.parent_id) : undefined
  }
  return out
}

/** A project's ancestors, nearest first (stops at a cycle, which the API never creates). */
export async function projectAncestors(db: Kysely<IdentitySchema>, projectId: string): Promise<{ id: string; domain_id: string; parent_id: string | null }[]> {
  return (await projectChain(db, projectId)).slice(1)
}

/**
 * Every descendant of each root project (children, grandchildren…), in one recursive
 * query: root id → descendant ids. A root without children maps to [].
 */
export async function projectDescendants(db: Kysely<IdentitySchema>, roots: string[]): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>(roots.map((r) => [r, []]))
  if (roots.length === 0) return out
  const rows = await db
    .withRecursive('sub(root_id, id)', (qb) => qb.selectFrom('projects')
      .select(['projects.parent_id as root_id', 'projects.id']).where('projects.parent_id', 'in', roots)
      .union(qb.selectFrom('projects').innerJoin('sub', 'sub.id', 'projects.parent_id')
        .select(['sub.root_id', 'projects.id'])))
    .selectFrom('sub').select(['sub.root_id', 'sub.id']).execute()
  for (const r of rows) if (r.root_id && r.id !== r.root_id) out.get(r.root_id)?.push(r.id)
  return out
}

/**
 * The inference rules reachable from some roles (every rule whose prior role is one of
 * them or is implied by them, transitively), in one recursive query: prior → implied ids.
 */
export async function impliedRules(db: Kysely<IdentitySchema>, roleIds: Iterable<string>): Promise<Map<string, string[]>> {
  const start = [...new Set(roleIds)]
  const rules = new Map<string, string[]>()
  if (start.length === 0) return rules
  const rows = await db
    .withRecursive('reach(id)', (qb) => qb.selectFrom('implied_roles').select('implied_roles.implied_role_id as id')
      .where('implied_roles.prior_role_id', 'in', start)
      .union(qb.selectFrom('implied_roles').innerJoin('reach', 'reach.id', 'implied_roles.prior_role_id')
        .select('implied_roles.implied_role_id as id')))
    .selectFrom('implied_roles').select(['implied_roles.prior_role_id', 'implied_roles.implied_role_id'])
    .where((eb) => eb.or([
      eb('implied_roles.prior_role_id', 'in', start),
      eb('implied_roles.prior_role_id', 'in', eb.selectFrom('reach').select('reach.id')),
    ]))
    .execute()
  for (const r of rows) {
    const l = rules.get(r.prior_role_id)
    if (l) l.push(r.implied_role_id); else rules.set(r.prior_role_id, [r.implied_role_id])
  }
  return rules
}

/** Ids of the roles a set of prior roles implies, transitively, prior roles included. */
export async function expandImplied(db: Kysely<IdentitySchema>, roleIds: Iterable<string>): Promise<Set<string>> {
  const all = new Set(roleIds)
  const rules = await impliedRules(db, all)
  let frontier = [...all]
  while (frontier.length > 0) {
    const next: string[] = []
    for (const id of frontier) {
      for (const implied of rules.get(id) ?? []) if (!all.has(implied)) { all.add(implied); next.push(implied) }
    }
    frontier = next
  }
  return all
}

/**
 * The roles a user holds on a scope, as a token shows them: direct and group assignments,
 * assignments inherited from the project's domain and parent projects (OS-INHERIT), then
 * implied roles. Domain-specific roles are never placed in tokens, only what they imply.
 * Two queries for a project (its chain, then assignments and implications together).
 */
export async function effectiveRoles(db: Kysely<IdentitySchema>, userId: string, scope: Scope): Promise<RoleRow[]> {
  let chain: TreeNode[] = []
  if ('project' in scope) {
    chain = await projectChain(db, scope.project)
    if (chain.length === 0) return []
  }
  const rows = await db
    .withRecursive('granted(id)', (qb) => qb.selectFrom('assignments').select('assignments.role_id as id')
      .where((eb) => eb.or([
        eb('assignments.actor_id', '=', userId),
        eb('assignments.actor_id', 'in', eb.selectFrom('user_groups').select('user_groups.group_id').where('user_groups.user_id', '=', userId)),
      ]))
      .where((eb) => {
        if ('project' in scope) {
          const [project, ...ancestors] = chain
          return eb.or([
            eb.and([eb('assignments.type', 'in', ['UserProject', 'GroupProject']), eb('assignments.target_id', '=', project!.id), eb('assignments.inherited', '=', 0)]),
            eb.and([eb('assignments.type', 'in', ['UserDomain', 'GroupDomain']), eb('assignments.target_id', '=', project!.domain_id), eb('assignments.inherited', '=', 1)]),
            ...(ancestors.length > 0
              ? [eb.and([eb('assignments.type', 'in', ['UserProject', 'GroupProject']), eb('assignments.target_id', 'in', ancestors.map((a) => a.id)), eb('assignments.inherited', '=', 1)])]
              : []),
          ])
        }
        if ('domain' in scope) {
          return eb.and([eb('assignments.type', 'in', ['UserDomain', 'GroupDomain']), eb('assignments.target_id', '=', scope.domain), eb('assignments.inherited', '=', 0)])
        }
        return eb.and([eb('assignments.type', 'in', ['UserSystem', 'GroupSystem']), eb('assignments.target_id', '=', 'system')])
      })
      .union(qb.selectFrom('implied_roles').innerJoin('granted', 'granted.id', 'implied_roles.prior_role_id')
        .select('implied_roles.implied_role_id as id')))
    .selectFrom('roles').selectAll('roles')
    .where('roles.id', 'in', (eb) => eb.selectFrom('granted').select('granted.id'))
    .where('roles.domain_id', '=', '')
    .execute()
  return rows.sort((a, b) => a.name.localeCompare(b.name))
}
