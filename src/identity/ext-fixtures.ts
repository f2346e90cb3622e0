import type { IdentityHarness } from './testing.ts'
import { hashPassword } from './passwords.ts'
import { newId } from './api/common.ts'

// Test fixtures for the policy, endpoint-group, consumer and domain-config tests. Rows are
// written straight to the database so these tests do not depend on the users, projects or
// catalog APIs; names are unique so runs can share a PostgreSQL database.

const now = () => new Date().toISOString()

/** A new domain; returns its id. */
export async function addDomain(h: IdentityHarness): Promise<string> {
  const id = newId()
  await h.identity.ctx.db.insertInto('domains').values({ id, name: `dom-${id}`, description: '', enabled: 1,
    extra: '{}', created_at: now() }).execute()
  return id
}

/** A new project in the Default domain (or the one given); returns its id. */
export async function addProject(h: IdentityHarness, domainId = 'default'): Promise<string> {
  const id = newId()
  await h.identity.ctx.db.insertInto('projects').values({ id, name: `proj-${id}`, domain_id: domainId, parent_id: null,
    description: '', enabled: 1, is_domain: 0, extra: '{}', created_at: now() }).execute()
  return id
}

/** A new service with one endpoint per interface given; returns the ids. */
export async function addService(h: IdentityHarness, o: { interfaces?: string[]; region?: string | null } = {}) {
  const db = h.identity.ctx.db
  const serviceId = newId()
  await db.insertInto('services').values({ id: serviceId, type: `type-${serviceId}`, name: `svc-${serviceId}`,
    description: '', enabled: 1, extra: '{}' }).execute()
  const endpoints: Record<string, string> = {}
  for (const iface of o.interfaces ?? ['public', 'internal', 'admin']) {
    const id = newId()
    endpoints[iface] = id
    await db.insertInto('endpoints').values({ id, service_id: serviceId, interface: iface,
      url: `http://svc-${serviceId}.example/${iface}`, region_id: o.region === undefined ? 'RegionOne' : o.region,
      enabled: 1, extra: '{}' }).execute()
  }
  h.identity.ctx.changed()
  return { serviceId, endpoints }
}

/**
 * A user holding `role` (by name) on a project, or on the system; returns a token scoped there.
 */
export async function tokenWithRole(h: IdentityHarness, role: string, scope: { project: string } | { system: true }): Promise<string> {
  const db = h.identity.ctx.db
  const id = newId()
  const password = `pw-${id}`
  await db.insertInto('users').values({ id, name: `user-${id}`, domain_id: 'default', enabled: 1, default_project_id: null,
    description: '', extra: '{}', options: '{}', password_hash: await hashPassword(password, h.identity.ctx.config.scryptCost),
    password_created_at: now(), password_expires_at: null, failed_auth_count: 0, failed_auth_at: null,
    last_active_at: null, created_at: now() }).execute()
  const r = await db.selectFrom('roles').select('id').where('name', '=', role).where('domain_id', '=', '').executeTakeFirstOrThrow()
  const system = 'system' in scope
  await db.insertInto('assignments').values({ type: system ? 'UserSystem' : 'UserProject', actor_id: id,
    target_id: system ? 'system' : scope.project, role_id: r.id, inherited: 0 }).execute()
  h.identity.ctx.changed()
  return h.login(id, password, system ? { system: { all: true } } : { project: { id: scope.project } })
}

/** The tokens RBAC tests need: a project member, a project reader and a system reader. */
export async function rbacTokens(h: IdentityHarness) {
  const project = await addProject(h)
  return {
    project,
    member: await tokenWithRole(h, 'member', { project }),
    reader: await tokenWithRole(h, 'reader', { project }),
    systemReader: await tokenWithRole(h, 'reader', { system: true }),
  }
}
