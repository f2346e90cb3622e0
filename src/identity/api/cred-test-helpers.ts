import assert from 'node:assert/strict'
import type { LightMyRequestResponse } from 'fastify'
import { hashPassword } from '../passwords.ts'
import type { IdentityHarness } from '../testing.ts'
import { newId } from './common.ts'

// Test fixtures for the catalog, credential and application-credential tests: users,
// projects and role assignments written straight into the database, so these tests do not
// depend on the users/projects/grants APIs. Names are unique (a PostgreSQL run shares data).

export const PASSWORD = 'fixture-password'

export interface Fixture { userId: string; userName: string; projectId: string; token: string }

export async function roleId(h: IdentityHarness, name: string): Promise<string> {
  const r = await h.identity.ctx.db.selectFrom('roles').select('id').where('name', '=', name).where('domain_id', '=', '').executeTakeFirstOrThrow()
  return r.id
}

export async function makeProject(h: IdentityHarness): Promise<string> {
  const id = newId()
  await h.identity.ctx.db.insertInto('projects').values({ id, name: `p-${id}`, domain_id: 'default', parent_id: null,
    description: '', enabled: 1, is_domain: 0, extra: '{}', created_at: new Date().toISOString() }).execute()
  return id
}

export async function grant(h: IdentityHarness, userId: string, projectId: string, role: string): Promise<void> {
  await h.identity.ctx.db.insertInto('assignments').values({ type: 'UserProject', actor_id: userId, target_id: projectId,
    role_id: await roleId(h, role), inherited: 0 }).execute()
  h.identity.ctx.changed()
}

/** A user with `role` on a new project (or the given one), and a token scoped to it. */
export async function makeUser(h: IdentityHarness, role: string | null, projectId?: string): Promise<Fixture> {
  const userId = newId()
  const userName = `u-${userId}`
  await h.identity.ctx.db.insertInto('users').values({ id: userId, name: userName, domain_id: 'default', enabled: 1,
    default_project_id: null, description: '', extra: '{}', options: '{}',
    password_hash: await hashPassword(PASSWORD, 1024), password_created_at: null, password_expires_at: null,
    failed_auth_count: 0, failed_auth_at: null, last_active_at: null, created_at: new Date().toISOString() }).execute()
  const pid = projectId ?? await makeProject(h)
  if (role) await grant(h, userId, pid, role)
  const token = role ? await h.login(userId, PASSWORD, { project: { id: pid } }) : await h.login(userId, PASSWORD)
  return { userId, userName, projectId: pid, token }
}

/** Parses a JSON response after checking its status (the body is shown when it differs). */
export function json(r: LightMyRequestResponse, status: number): any {
  assert.equal(r.statusCode, status, `expected ${status}, got ${r.statusCode}: ${r.body}`)
  return r.body === '' ? undefined : JSON.parse(r.body)
}

/** Checks a Keystone error body: status, code and (part of) the message. */
export function assertError(r: LightMyRequestResponse, status: number, message?: string | RegExp): void {
  const b = json(r, status)
  assert.equal(b.error.code, status)
  if (typeof message === 'string') assert.equal(b.error.message, message)
  else if (message) assert.match(b.error.message, message)
}
