import { newId } from './api/common.ts'
import { hashPassword } from './passwords.ts'
import type { IdentityHarness } from './testing.ts'

// Fixtures for the roles, grants and role_assignments tests. Users, groups, projects and
// domains are written straight to the tables so these tests don't depend on the routes
// that manage them; every name is unique so runs can share a PostgreSQL database.

export const PASSWORD = 'pw-secret-1'

const now = () => new Date().toISOString()
export const uniq = (p: string) => `${p}-${newId().slice(0, 10)}`

/** Builds rows through the harness's database. */
export function fixtures(h: IdentityHarness) {
  const db = h.identity.ctx.db
  const changed = () => h.identity.ctx.changed()
  return {
    db,
    async domain(): Promise<string> {
      const id = newId()
      await db.insertInto('domains').values({ id, name: uniq('dom'), description: '', enabled: 1, extra: '{}', created_at: now() }).execute()
      return id
    },
    async project(o: { domainId?: string; parentId?: string } = {}): Promise<string> {
      const id = newId()
      await db.insertInto('projects').values({ id, name: uniq('proj'), domain_id: o.domainId ?? 'default', parent_id: o.parentId ?? null,
        description: '', enabled: 1, is_domain: 0, extra: '{}', created_at: now() }).execute()
      return id
    },
    async user(o: { domainId?: string } = {}): Promise<string> {
      const id = newId()
      await db.insertInto('users').values({ id, name: uniq('user'), domain_id: o.domainId ?? 'default', enabled: 1, default_project_id: null,
        description: '', extra: '{}', options: '{}', password_hash: await hashPassword(PASSWORD, 1024), password_created_at: now(),
        password_expires_at: null, failed_auth_count: 0, failed_auth_at: null, last_active_at: null, created_at: now() }).execute()
      return id
    },
    async group(o: { domainId?: string; members?: string[] } = {}): Promise<string> {
      const id = newId()
      await db.insertInto('groups').values({ id, name: uniq('grp'), domain_id: o.domainId ?? 'default', description: '', extra: '{}', created_at: now() }).execute()
      for (const u of o.members ?? []) await db.insertInto('user_groups').values({ user_id: u, group_id: id }).execute()
      changed()
      return id
    },
    /** A role through the API (admin), returning its id. */
    async role(o: { domainId?: string; name?: string } = {}): Promise<string> {
      const r = await h.call('POST', '/v3/roles', { body: { role: { name: o.name ?? uniq('role'), ...(o.domainId ? { domain_id: o.domainId } : {}) } } })
      if (r.statusCode !== 201) throw new Error(`role create: ${r.statusCode} ${r.body}`)
      return r.json().role.id
    },
    /** The id of a bootstrap role by name (admin, member, reader…). */
    async roleId(name: string): Promise<string> {
      return (await db.selectFrom('roles').select('id').where('name', '=', name).where('domain_id', '=', '').executeTakeFirstOrThrow()).id
    },
    /** PUTs a grant URL (relative to /v3) and checks the 204. */
    async grant(path: string): Promise<void> {
      const r = await h.call('PUT', `/v3${path}`)
      if (r.statusCode !== 204) throw new Error(`grant ${path}: ${r.statusCode} ${r.body}`)
    },
    /** A user holding `role` on a new project, logged in there: [userId, projectId, token]. */
    async memberOf(roleName: string): Promise<{ userId: string; projectId: string; token: string }> {
      const projectId = await this.project()
      const userId = await this.user()
      await this.grant(`/projects/${projectId}/users/${userId}/roles/${await this.roleId(roleName)}`)
      return { userId, projectId, token: await h.login(userId, PASSWORD, { project: { id: projectId } }) }
    },
  }
}
