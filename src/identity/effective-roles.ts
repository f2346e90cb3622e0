import type { Kysely } from 'kysely'
import type { IdentitySchema, RoleRow } from './schema.ts'

export type Scope =
  | { project: string }
  | { domain: string }
  | { system: true }

/** A project's ancestors, nearest first (stops at a cycle, which the API never creates). */
export async function projectAncestors(db: Kysely<IdentitySchema>, projectId: string): Promise<{ id: string; domain_id: string; parent_id: string | null }[]> {
  const out: { id: string; domain_id: string; parent_id: string | null }[] = []
  const seen = new Set<string>([projectId])
  let cur = await db.selectFrom('projects').select(['id', 'domain_id', 'parent_id']).where('id', '=', projectId).executeTakeFirst()
  while (cur?.parent_id && !seen.has(cur.parent_id)) {
    seen.add(cur.parent_id)
    cur = await db.selectFrom('projects').select(['id', 'domain_id', 'parent_id']).where('id', '=', cur.parent_id).executeTakeFirst()
    if (cur) out.push(cur)
  }
  return out
}

/** Ids of the roles a set of prior roles implies, transitively, prior roles included. */
export async function expandImplied(db: Kysely<IdentitySchema>, roleIds: Iterable<string>): Promise<Set<string>> {
  const all = new Set(roleIds)
  let frontier = [...all]
  while (frontier.length > 0) {
    const rows = await db.selectFrom('implied_roles').select('implied_role_id')
      .where('prior_role_id', 'in', frontier).execute()
    frontier = []
    for (const r of rows) if (!all.has(r.implied_role_id)) { all.add(r.implied_role_id); frontier.push(r.implied_role_id) }
  }
  return all
}

/**
 * The roles a user holds on a scope, as a token shows them: direct and group assignments,
 * assignments inherited from the project's domain and parent projects (OS-INHERIT), then
 * implied roles. Domain-specific roles are never placed in tokens, only what they imply.
 */
export async function effectiveRoles(db: Kysely<IdentitySchema>, userId: string, scope: Scope): Promise<RoleRow[]> {
  const groups = await db.selectFrom('user_groups').select('group_id').where('user_id', '=', userId).execute()
  const actors = [userId, ...groups.map((g) => g.group_id)]
  let q = db.selectFrom('assignments').select('role_id').where('actor_id', 'in', actors)
  if ('project' in scope) {
    const project = await db.selectFrom('projects').select(['id', 'domain_id']).where('id', '=', scope.project).executeTakeFirst()
    if (!project) return []
    const ancestors = await projectAncestors(db, scope.project)
    q = q.where((eb) => eb.or([
      eb.and([eb('type', 'in', ['UserProject', 'GroupProject']), eb('target_id', '=', project.id), eb('inherited', '=', 0)]),
      eb.and([eb('type', 'in', ['UserDomain', 'GroupDomain']), eb('target_id', '=', project.domain_id), eb('inherited', '=', 1)]),
      ...(ancestors.length > 0
        ? [eb.and([eb('type', 'in', ['UserProject', 'GroupProject']), eb('target_id', 'in', ancestors.map((a) => a.id)), eb('inherited', '=', 1)])]
        : []),
    ]))
  } else if ('domain' in scope) {
    q = q.where('type', 'in', ['UserDomain', 'GroupDomain']).where('target_id', '=', scope.domain).where('inherited', '=', 0)
  } else {
    q = q.where('type', 'in', ['UserSystem', 'GroupSystem']).where('target_id', '=', 'system')
  }
  const direct = (await q.execute()).map((r) => r.role_id)
  if (direct.length === 0) return []
  const ids = await expandImplied(db, direct)
  const rows = await db.selectFrom('roles').selectAll().where('id', 'in', [...ids]).execute()
  return rows.filter((r) => r.domain_id === '').sort((a, b) => a.name.localeCompare(b.name))
}
