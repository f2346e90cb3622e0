// Test fixture for the Swift proxy: an identity service (for tokens), the object store on a temp
// data dir with small rings, and helpers to call the API in-process and to make users.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { LightMyRequestResponse } from 'fastify'
import { createCore } from '../../core/index.ts'
import { type IdentityHarness, identityHarness } from '../../identity/testing.ts'
import { type ObjectStore, createObjectStore } from '../index.ts'

/** A running proxy with identity, and its temp directory. */
export interface SwiftFixture {
  h: IdentityHarness
  store: ObjectStore
  dir: string
  /** AUTH_<admin project>. */
  account: string
  /** Calls the Swift API; `token` defaults to the admin's (null: anonymous). */
  call(method: string, url: string, o?: { token?: string | null; headers?: Record<string, string>; body?: string | Buffer }): Promise<LightMyRequestResponse>
  /** Creates a project and a user with `role` on it; returns the user's project-scoped token. */
  user(name: string, role?: string): Promise<{ token: string; projectId: string; userId: string; account: string }>
  close(): Promise<void>
}

/** Starts the fixture. */
export async function swiftFixture(): Promise<SwiftFixture> {
  const h = await identityHarness()
  const dir = mkdtempSync(join(tmpdir(), 'cumulo-swift-'))
  const core = createCore({ database: 'sqlite::memory:', logLevel: 'silent' })
  const store = await createObjectStore(core, {
    auth: h.identity.auth, dataDir: dir, partPower: 4, daemons: false,
    authenticate: async (project, user, password) => {
      const r = await h.call('POST', '/v3/auth/tokens', { token: null, body: { auth: {
        identity: { methods: ['password'], password: { user: { name: user, domain: { id: 'default' }, password } } },
        scope: { project: { name: project, domain: { id: 'default' } } } } } })
      if (r.statusCode !== 201) return null
      return { token: r.headers['x-subject-token'] as string, projectId: JSON.parse(r.body).token.project.id }
    },
  })
  const call: SwiftFixture['call'] = (method, url, o = {}) => {
    const headers: Record<string, string> = { ...o.headers }
    const token = o.token === undefined ? h.adminToken : o.token
    if (token) headers['x-auth-token'] = token
    return store.api.inject({ method: method as 'GET', url, headers, payload: o.body })
  }
  const roleIds = new Map<string, string>()
  const user: SwiftFixture['user'] = async (name, role = 'member') => {
    const p = await h.call('POST', '/v3/projects', { body: { project: { name: `p-${name}`, domain_id: 'default' } } })
    const projectId = JSON.parse(p.body).project.id as string
    const u = await h.call('POST', '/v3/users', { body: { user: { name, password: `pw-${name}`, domain_id: 'default', default_project_id: projectId } } })
    const userId = JSON.parse(u.body).user.id as string
    if (!roleIds.has(role)) {
      const r = await h.call('GET', `/v3/roles?name=${role}`)
      roleIds.set(role, JSON.parse(r.body).roles[0].id)
    }
    await h.call('PUT', `/v3/projects/${projectId}/users/${userId}/roles/${roleIds.get(role)}`)
    const token = await h.login(userId, `pw-${name}`, { project: { id: projectId } })
    return { token, projectId, userId, account: `AUTH_${projectId}` }
  }
  return {
    h, store, dir, account: `AUTH_${h.adminProjectId}`, call, user,
    async close() {
      await store.close()
      await core.db.close()
      await h.close()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
