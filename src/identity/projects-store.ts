import type { Kysely } from 'kysely'
import { expandImplied } from './effective-roles.ts'
import type { IdentitySchema, ProjectRow } from './schema.ts'

// Rows and queries behind /v3/projects and /v3/domains: tags, the hierarchy, the projects a
// user can reach, and the cascades of a delete. Portable Kysely only (SQLite and PostgreSQL).

type Db = Kysely<IdentitySchema>

/** Keystone's [DEFAULT] max_project_tree_depth: projects nest at most this deep under a domain. */
export const MAX_PROJECT_DEPTH = 5

const PROJECT_TYPES = ['UserProject', 'GroupProject']
const DOMAIN_TYPES = ['UserDomain', 'GroupDomain']

/** The tags of each project, sorted, for many projects in one query. */
export async function tagsOf(db: Db, projectIds: string[]): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>()
  if (projectIds.length === 0) return out
  // In chunks, so a long list stays under every engine's limit on bound parameters.
  for (let i = 0; i < projectIds.length; i += 500) {
    const rows = await db.selectFrom('project_tags').select(['project_id', 'tag'])
      .where('project_id', 'in', projectIds.slice(i, i + 500)).orderBy('tag').execute()
    for (const r of rows) {
      const l = out.get(r.project_id)
      if (l) l.push(r.tag); else out.set(r.project_id, [r.tag])
    }
  }
  return out
}

/** Makes a project's tags exactly `tags` (already validated and de-duplicated). */
export async function replaceTags(db: Db, projectId: string, tags: string[]): Promise<void> {
  await db.deleteFrom('project_tags').where('project_id', '=', projectId).execute()
  if (tags.length > 0) {
    await db.insertInto('project_tags').values(tags.map((tag) => ({ project_id: projectId, tag }))).execute()
  }
}

/** A project's ancestors (projects only, not the domain), nearest first. */
export async function ancestorsOf(db: Db, p: ProjectRow): Promise<ProjectRow[]> {
  const out: ProjectRow[] = []
  const seen = new Set([p.id])
  let cur: ProjectRow | undefined = p
  while (cur?.parent_id && !seen.has(cur.parent_id)) {
    seen.add(cur.parent_id)
    cur = await db.selectFrom('projects').selectAll().where('id', '=', cur.parent_id).executeTakeFirst()
    if (cur) out.push(cur)
  }
  return out
}

/**
 * Every project below a project (or below a domain: `{ domainId }`), breadth first, the
 * nearest level first. Depth is bounded by MAX_PROJECT_DEPTH, so this is a few queries.
 */
export async function subtreeOf(db: Db, root: { projectId: string } | { domainId: string }): Promise<ProjectRow[]> {
  const out: ProjectRow[] = []
  const seen = new Set<string>()
  let level = 'projectId' in root
    ? await db.selectFrom('projects').selectAll().where('parent_id', '=', root.projectId).orderBy('name').execute()
    : await db.selectFrom('projects').selectAll().where('domain_id', '=', root.domainId).where('parent_id', 'is', null)
      .orderBy('name').execute()
  if ('projectId' in root) seen.add(root.projectId)
  while (level.length > 0) {
    const fresh = level.filter((p) => !seen.has(p.id))
    for (const p of fresh) { seen.add(p.id); out.push(p) }
    if (fresh.length === 0) break
    level = await db.selectFrom('projects').selectAll().where('parent_id', 'in', fresh.map((p) => p.id))
      .orderBy('name').execute()
  }
  return out
}

/** True when some project has this one as its parent. */
export async function hasChildren(db: Db, projectId: string): Promise<boolean> {
  return !!(await db.selectFrom('projects').select('id').where('parent_id', '=', projectId).limit(1).executeTakeFirst())
}

/**
 * The projects on which a user has an effective role assignment (Keystone's
 * list_projects_for_user): assignments to the user or to any of the user's groups, directly
 * on the project, inherited from the project's domain, or inherited from an ancestor project.
 * An assignment counts when its role is global, or is a domain-specific role implying a
 * global one (domain-specific roles alone grant nothing). Disabled projects are included;
 * callers filter on `enabled` as they need. Two queries in the common case: the user's
 * assignments, then the projects (with a recursive walk for inherited project assignments).
 */
export async function projectsForUser(db: Db, userId: string): Promise<ProjectRow[]> {
  const groups = db.selectFrom('user_groups').select('group_id').where('user_id', '=', userId)
  const rows = await db.selectFrom('assignments')
    .innerJoin('roles', 'roles.id', 'assignments.role_id')
    .select(['assignments.type', 'assignments.target_id', 'assignments.inherited', 'assignments.role_id',
      'roles.domain_id as role_domain_id'])
    .where((eb) => eb.or([
      eb.and([eb('assignments.type', 'in', ['UserProject', 'UserDomain']), eb('assignments.actor_id', '=', userId)]),
      eb.and([eb('assignments.type', 'in', ['GroupProject', 'GroupDomain']), eb('assignments.actor_id', 'in', groups)]),
    ]))
    .execute()
  if (rows.length === 0) return []

  // Domain-specific roles count only through a global role they imply.
  const useless = new Set<string>()
  const domainRoles = [...new Set(rows.filter((r) => r.role_domain_id !== '').map((r) => r.role_id))]
  for (const id of domainRoles) {
    const implied = [...(await expandImplied(db, [id]))].filter((x) => x !== id)
    const global = implied.length === 0 ? undefined
      : await db.selectFrom('roles').select('id').where('id', 'in', implied).where('domain_id', '=', '').executeTakeFirst()
    if (!global) useless.add(id)
  }
  const useful = rows.filter((r) => !useless.has(r.role_id))
  const direct = uniq(useful.filter((r) => PROJECT_TYPES.includes(r.type) && !r.inherited).map((r) => r.target_id))
  const fromDomains = uniq(useful.filter((r) => DOMAIN_TYPES.includes(r.type) && r.inherited).map((r) => r.target_id))
  const fromParents = uniq(useful.filter((r) => PROJECT_TYPES.includes(r.type) && r.inherited).map((r) => r.target_id))
  if (direct.length + fromDomains.length + fromParents.length === 0) return []

  // Inherited project assignments reach the whole subtree below the project (not the
  // project itself): a recursive common table expression walks it in the same query.
  // ('' is no project id: it keeps the walk empty when there is nothing to inherit.)
  return db.withRecursive('below(id)', (qc) => qc.selectFrom('projects').select('projects.id')
    .where('projects.parent_id', 'in', fromParents.length > 0 ? fromParents : [''])
    .union((qc2) => qc2.selectFrom('projects').innerJoin('below', 'below.id', 'projects.parent_id').select('projects.id')))
    .selectFrom('projects').selectAll('projects')
    .where((eb) => eb.or([
      eb('projects.id', 'in', direct.length > 0 ? direct : ['']),
      eb('projects.domain_id', 'in', fromDomains.length > 0 ? fromDomains : ['']),
      eb('projects.id', 'in', eb.selectFrom('below').select('below.id')),
    ]))
    .orderBy('projects.name').execute()
}

/**
 * Removes projects and what hangs off them: role assignments on them, their tags, the
 * credentials and application credentials bound to them. Children go with their parents
 * only when listed too; callers check the hierarchy first. Runs inside the caller's
 * transaction.
 */
export async function deleteProjects(db: Db, ids: string[]): Promise<void> {
  if (ids.length === 0) return
  await db.deleteFrom('assignments').where('type', 'in', PROJECT_TYPES).where('target_id', 'in', ids).execute()
  await db.deleteFrom('project_tags').where('project_id', 'in', ids).execute()
  await db.deleteFrom('credentials').where('project_id', 'in', ids).execute()
  // Application credentials bound to them, with their links (not their users' access rules,
  // which belong to the users and outlive the credentials).
  const appCreds = db.selectFrom('application_credentials').select('id').where('project_id', 'in', ids)
  await db.deleteFrom('app_cred_access_rules').where('app_cred_id', 'in', appCreds).execute()
  await db.deleteFrom('app_cred_roles').where('app_cred_id', 'in', appCreds).execute()
  await db.deleteFrom('application_credentials').where('project_id', 'in', ids).execute()
  // The catalog's project-endpoint and project-endpoint-group associations (OS-EP-FILTER).
  await db.deleteFrom('project_endpoints').where('project_id', 'in', ids).execute()
  await db.deleteFrom('project_endpoint_groups').where('project_id', 'in', ids).execute()
  // Parents are deleted with their children here: break the links first so the foreign
  // key on parent_id holds whatever the order.
  await db.updateTable('projects').set({ parent_id: null }).where('id', 'in', ids).execute()
  await db.deleteFrom('projects').where('id', 'in', ids).execute()
}

/**
 * Removes a domain and everything it owns (Keystone's _delete_domain_contents and the
 * identity cleanups that follow): its projects, users (with their group memberships,
 * credentials and application credentials), groups, domain-specific roles, and every role
 * assignment on the domain, on its projects, or held by its users and groups, and its
 * domain-specific configuration. Runs inside
 * the caller's transaction.
 */
export async function deleteDomainContents(db: Db, domainId: string): Promise<void> {
  const projectIds = (await db.selectFrom('projects').select('id').where('domain_id', '=', domainId).execute()).map((r) => r.id)
  await deleteProjects(db, projectIds)
  const users = db.selectFrom('users').select('id').where('domain_id', '=', domainId)
  const groups = db.selectFrom('groups').select('id').where('domain_id', '=', domainId)
  await db.deleteFrom('assignments').where((eb) => eb.or([
    eb.and([eb('type', 'in', DOMAIN_TYPES), eb('target_id', '=', domainId)]),
    eb.and([eb('type', 'in', ['UserProject', 'UserDomain', 'UserSystem']), eb('actor_id', 'in', users)]),
    eb.and([eb('type', 'in', ['GroupProject', 'GroupDomain', 'GroupSystem']), eb('actor_id', 'in', groups)]),
  ])).execute()
  await db.deleteFrom('credentials').where('user_id', 'in', users).execute()
  // Application credentials (with their role and access-rule links), access rules, password
  // history and memberships go by cascade with their user or group; delete them explicitly
  // anyway so no engine setting matters.
  const appCreds = db.selectFrom('application_credentials').select('id').where('user_id', 'in', users)
  await db.deleteFrom('app_cred_access_rules').where('app_cred_id', 'in', appCreds).execute()
  await db.deleteFrom('app_cred_roles').where('app_cred_id', 'in', appCreds).execute()
  await db.deleteFrom('application_credentials').where('user_id', 'in', users).execute()
  await db.deleteFrom('access_rules').where('user_id', 'in', users).execute()
  await db.deleteFrom('password_history').where('user_id', 'in', users).execute()
  await db.deleteFrom('user_groups').where((eb) => eb.or([eb('user_id', 'in', users), eb('group_id', 'in', groups)])).execute()
  await db.deleteFrom('users').where('domain_id', '=', domainId).execute()
  await db.deleteFrom('groups').where('domain_id', '=', domainId).execute()
  const roles = db.selectFrom('roles').select('id').where('domain_id', '=', domainId)
  await db.deleteFrom('implied_roles').where((eb) => eb.or([eb('prior_role_id', 'in', roles), eb('implied_role_id', 'in', roles)])).execute()
  await db.deleteFrom('assignments').where('role_id', 'in', roles).execute()
  await db.deleteFrom('app_cred_roles').where('role_id', 'in', roles).execute()
  await db.deleteFrom('roles').where('domain_id', '=', domainId).execute()
  await db.deleteFrom('domain_configs').where('domain_id', '=', domainId).execute()
  await db.deleteFrom('domains').where('id', '=', domainId).execute()
}

function uniq(a: string[]): string[] { return [...new Set(a)] }
