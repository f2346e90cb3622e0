import { randomUUID } from 'node:crypto'
import type { IdentityHarness } from '../testing.ts'
import { hashPassword } from '../passwords.ts'
import { newId } from './common.ts'

// Test helpers for the domain and project tests: users, groups and role assignments are
// written straight to the database so these tests depend on no other resource's API.

/** A name no other run uses (tests may share one PostgreSQL database). */
export const uniq = (prefix: string): string => `${prefix}-${randomUUID().slice(0, 8)}`

export const PASSWORD = 'user-secret-1'

export async function makeUser(h: IdentityHarness, o: { domainId?: string; name?: string } = {}): Promise<string> {
  const id = newId()
  const now = new Date().toISOString()
  await h.identity.ctx.db.insertInto('users').values({
    id, name: o.name ?? uniq('user'), domain_id: o.domainId ?? 'default', enabled: 1, default_project_id: null,
    description: '', extra: '{}', options: '{}', password_hash: await hashPassword(PASSWORD, 1024),
    password_created_at: now, password_expires_at: null, failed_auth_count: 0, failed_auth_at: null,
    last_active_at: null, created_at: now,
  }).execute()
  return id
}

export async function makeGroup(h: IdentityHarness, domainId = 'default', members: string[] = []): Promise<string> {
  const id = newId()
  const db = h.identity.ctx.db
  await db.insertInto('groups').values({ id, name: uniq('group'), domain_id: domainId, description: '', extra: '{}',
    created_at: new Date().toISOString() }).execute()
  for (const m of members) await db.insertInto('user_groups').values({ user_id: m, group_id: id }).execute()
  return id
}

export async function roleId(h: IdentityHarness, name: string, domainId = ''): Promise<string> {
  const r = await h.identity.ctx.db.selectFrom('roles').select('id').where('name', '=', name)
    .where('domain_id', '=', domainId).executeTakeFirstOrThrow()
  return r.id
}

export async function makeDomainRole(h: IdentityHarness, domainId: string, implies?: string): Promise<string> {
  const id = newId()
  const db = h.identity.ctx.db
  await db.insertInto('roles').values({ id, name: uniq('drole'), domain_id: domainId, description: '', options: '{}',
    extra: '{}', created_at: new Date().toISOString() }).execute()
  if (implies) await db.insertInto('implied_roles').values({ prior_role_id: id, implied_role_id: await roleId(h, implies) }).execute()
  return id
}

/** Grants a role (by name, or a role id) to a user or group on a project or domain. */
export async function grant(h: IdentityHarness, o: {
  user?: string; group?: string; project?: string; domain?: string; role: string; inherited?: boolean; roleIsId?: boolean
}): Promise<void> {
  const actor = o.user ? 'User' : 'Group'
  const target = o.project ? 'Project' : 'Domain'
  const role = o.roleIsId ? o.role : await roleId(h, o.role)
  await h.identity.ctx.db.insertInto('assignments').values({
    type: actor + target, actor_id: (o.user ?? o.group)!, target_id: (o.project ?? o.domain)!, role_id: role,
    inherited: o.inherited ? 1 : 0,
  }).execute()
  h.identity.ctx.changed()
}

/** Sends a request and returns status and parsed JSON body (null when empty). */
export async function req(h: IdentityHarness, method: string, url: string, o: { token?: string | null; body?: unknown } = {}) {
  const r = await h.call(method, url, o)
  return { status: r.statusCode, body: r.body ? JSON.parse(r.body) : null, headers: r.headers }
}
