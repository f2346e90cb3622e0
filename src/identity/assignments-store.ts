import type { Kysely } from 'kysely'
import { CloudError } from '../core/errors.ts'
import type { IdentityCtx } from './context.ts'
import type { IdentitySchema, RoleRow } from './schema.ts'

// Role assignments ("grants") as Keystone's assignment table holds them: one row per
// (type, actor, target, role, inherited). System grants target the literal 'system'.

export type ActorKind = 'user' | 'group'
export type TargetKind = 'project' | 'domain' | 'system'

/** One grant: an actor holds a role on a target (inherited: on the projects below it instead). */
export interface Grant {
  actor: ActorKind
  actorId: string
  target: TargetKind
  targetId: string
  roleId: string
  inherited: boolean
}

export const SYSTEM_TARGET = 'system'

/** The assignment table's `type` for an actor and a target kind, e.g. UserProject. */
export function assignmentType(actor: ActorKind, target: TargetKind): string {
  return (actor === 'user' ? 'User' : 'Group') + target[0]!.toUpperCase() + target.slice(1)
}

/** Types by actor or target kind, for filters. */
export const USER_TYPES = ['UserProject', 'UserDomain', 'UserSystem']
export const GROUP_TYPES = ['GroupProject', 'GroupDomain', 'GroupSystem']
export const PROJECT_TYPES = ['UserProject', 'GroupProject']
export const DOMAIN_TYPES = ['UserDomain', 'GroupDomain']
export const SYSTEM_TYPES = ['UserSystem', 'GroupSystem']

/** Keystone's RoleAssignmentNotFound. */
export function grantNotFound(g: Grant): CloudError {
  return new CloudError('NotFound', `Could not find role assignment with role: ${g.roleId}, user or group: ${g.actorId}, ` +
    `project, domain, or system: ${g.targetId}.`)
}

function whereGrant(db: Kysely<IdentitySchema>, g: Grant) {
  return db.selectFrom('assignments').select('role_id')
    .where('type', '=', assignmentType(g.actor, g.target)).where('actor_id', '=', g.actorId)
    .where('target_id', '=', g.targetId).where('role_id', '=', g.roleId).where('inherited', '=', g.inherited ? 1 : 0)
}

export async function grantExists(db: Kysely<IdentitySchema>, g: Grant): Promise<boolean> {
  return !!(await whereGrant(db, g).executeTakeFirst())
}

/** Adds a grant; granting what is already granted is a no-op (Keystone answers 204 again). */
export async function addGrant(c: IdentityCtx, g: Grant): Promise<void> {
  await c.db.insertInto('assignments').values({
    type: assignmentType(g.actor, g.target), actor_id: g.actorId, target_id: g.targetId,
    role_id: g.roleId, inherited: g.inherited ? 1 : 0,
  }).onConflict((oc) => oc.doNothing()).execute()
  c.changed()
}

/**
 * Removes a grant (404 when there is none) and invalidates the tokens it fed: a user's
 * tokens on the project (or, for a domain or an inherited grant, on the domain or the
 * project's subtree), for every member when the actor is a group. System-scoped tokens
 * are re-rendered without the role (c.changed()).
 */
export async function removeGrant(c: IdentityCtx, g: Grant): Promise<void> {
  const res = await c.db.deleteFrom('assignments')
    .where('type', '=', assignmentType(g.actor, g.target)).where('actor_id', '=', g.actorId)
    .where('target_id', '=', g.targetId).where('role_id', '=', g.roleId).where('inherited', '=', g.inherited ? 1 : 0)
    .executeTakeFirst()
  if (Number(res.numDeletedRows) === 0) throw grantNotFound(g)
  c.changed()
  if (g.target === 'system') return
  const users = g.actor === 'user' ? [g.actorId]
    : (await c.db.selectFrom('user_groups').select('user_id').where('group_id', '=', g.actorId).execute()).map((r) => r.user_id)
  for (const userId of users) {
    if (g.target === 'domain') await c.revocations.revoke({ userId, domainId: g.targetId })
    else if (g.inherited) await c.revocations.revoke({ userId }) // the project's whole subtree
    else await c.revocations.revoke({ userId, projectId: g.targetId })
  }
}

/** The roles an actor holds directly on a target (a grant listing), by name. */
export async function grantedRoles(db: Kysely<IdentitySchema>, actor: ActorKind, actorId: string,
  target: TargetKind, targetId: string, inherited: boolean): Promise<RoleRow[]> {
  return db.selectFrom('roles').selectAll('roles')
    .innerJoin('assignments', 'assignments.role_id', 'roles.id')
    .where('assignments.type', '=', assignmentType(actor, target)).where('assignments.actor_id', '=', actorId)
    .where('assignments.target_id', '=', targetId).where('assignments.inherited', '=', inherited ? 1 : 0)
    .orderBy('roles.name').execute()
}

/** What a grant names, loaded for the policy target and the existence checks. */
export interface GrantParties {
  role?: RoleRow
  actor?: { id: string; name: string; domain_id: string }
  project?: { id: string; name: string; domain_id: string; parent_id: string | null }
  domain?: { id: string; name: string }
}

/** Loads the role, the actor and the target of a grant (absent ones stay undefined). */
export async function loadParties(db: Kysely<IdentitySchema>, g: Omit<Grant, 'roleId' | 'inherited'> & { roleId?: string }): Promise<GrantParties> {
  const [role, actor, project, domain] = await Promise.all([
    g.roleId === undefined ? undefined : db.selectFrom('roles').selectAll().where('id', '=', g.roleId).executeTakeFirst(),
    g.actor === 'user'
      ? db.selectFrom('users').select(['id', 'name', 'domain_id']).where('id', '=', g.actorId).executeTakeFirst()
      : db.selectFrom('groups').select(['id', 'name', 'domain_id']).where('id', '=', g.actorId).executeTakeFirst(),
    g.target === 'project'
      ? db.selectFrom('projects').select(['id', 'name', 'domain_id', 'parent_id']).where('id', '=', g.targetId).executeTakeFirst()
      : undefined,
    g.target === 'domain' ? db.selectFrom('domains').select(['id', 'name']).where('id', '=', g.targetId).executeTakeFirst() : undefined,
  ])
  return { role, actor, project, domain }
}
