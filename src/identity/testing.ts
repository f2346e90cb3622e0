import { randomBytes } from 'node:crypto'
import type { LightMyRequestResponse } from 'fastify'
import { sql } from 'kysely'
import { createCore } from '../core/index.ts'
import { type Identity, bootstrapIdentity, createIdentity, registerEndpoints } from './index.ts'
import type { IdentityConfig } from './context.ts'

/** A whole identity service on in-memory SQLite, for unit and functional tests. */
export interface IdentityHarness {
  identity: Identity
  adminToken: string
  adminUserId: string
  adminProjectId: string
  /** Calls the API in-process; `token` defaults to the admin's project-scoped token. */
  call(method: string, url: string, o?: { token?: string | null; body?: unknown; headers?: Record<string, string> }): Promise<LightMyRequestResponse>
  /** Password-authenticates a user (by id) and returns the token, scoped as asked. */
  login(userId: string, password: string, scope?: unknown): Promise<string>
  /** A new project and user holding `role` on it (names start with `prefix`), with its project-scoped token. */
  projectUser(role?: string, prefix?: string): Promise<{ projectId: string; userId: string; token: string }>
  close(): Promise<void>
}

/** A JSON API answer read for tests: status, parsed body (the raw text when not JSON), headers. */
export function jsonAnswer(r: LightMyRequestResponse): { status: number; body: unknown; headers: Record<string, unknown> } {
  let body: unknown = null
  try { body = r.body ? JSON.parse(r.body) : null } catch { body = r.body }
  return { status: r.statusCode, body, headers: r.headers as Record<string, unknown> }
}

export const ADMIN_PASSWORD = 'admin-secret'

export async function identityHarness(config: Partial<IdentityConfig> = {}): Promise<IdentityHarness> {
  // IDENTITY_TEST_DB=postgres://… runs the same tests on PostgreSQL, each harness in a fresh schema.
  const url = process.env.IDENTITY_TEST_DB ?? 'sqlite::memory:'
  const core = createCore({ database: url, logLevel: 'silent' })
  const schema = core.db.engine === 'postgres' ? `identity_t${randomBytes(5).toString('hex')}` : 'identity'
  const identity = await createIdentity(core, { keyDir: null, schema, config: { scryptCost: 1024, ...config } })
  const boot = await bootstrapIdentity(identity.ctx, { adminPassword: ADMIN_PASSWORD })
  await registerEndpoints(identity.ctx, { type: 'identity', name: 'keystone', url: 'http://127.0.0.1:5000/v3' })
  const api = identity.api
  async function call(method: string, url: string, o: { token?: string | null; body?: unknown; headers?: Record<string, string> } = {}) {
    const headers: Record<string, string> = { ...o.headers }
    const token = o.token === undefined ? h.adminToken : o.token
    if (token) headers['x-auth-token'] = token
    if (o.body !== undefined) headers['content-type'] = 'application/json'
    return api.inject({ method: method as any, url, headers,
      payload: o.body === undefined ? undefined : (typeof o.body === 'string' ? o.body : JSON.stringify(o.body)) })
  }
  async function login(userId: string, password: string, scope?: unknown) {
    const r = await call('POST', '/v3/auth/tokens', { token: null, body: { auth: {
      identity: { methods: ['password'], password: { user: { id: userId, password } } }, ...(scope ? { scope } : {}) } } })
    if (r.statusCode !== 201) throw new Error(`login failed: ${r.statusCode} ${r.body}`)
    return r.headers['x-subject-token'] as string
  }
  async function projectUser(role = 'member', prefix = 't') {
    const tag = randomBytes(4).toString('hex')
    const p = await call('POST', '/v3/projects', { body: { project: { name: `${prefix}-p-${tag}`, domain_id: 'default' } } })
    const projectId = JSON.parse(p.body).project.id as string
    const password = `pw-${tag}-secret`
    const u = await call('POST', '/v3/users', { body: { user: { name: `${prefix}-u-${tag}`, domain_id: 'default', password } } })
    const userId = JSON.parse(u.body).user.id as string
    const roles = JSON.parse((await call('GET', `/v3/roles?name=${role}`)).body).roles as Array<{ id: string }>
    const g = await call('PUT', `/v3/projects/${projectId}/users/${userId}/roles/${roles[0]!.id}`)
    if (g.statusCode !== 204) throw new Error(`grant failed: ${g.statusCode} ${g.body}`)
    return { projectId, userId, token: await login(userId, password, { project: { id: projectId } }) }
  }
  const h: IdentityHarness = {
    identity, adminToken: '', adminUserId: boot.adminUserId, adminProjectId: boot.adminProjectId, call, login, projectUser,
    async close() {
      await identity.close()
      if (core.db.engine === 'postgres') await sql`DROP SCHEMA ${sql.id(schema)} CASCADE`.execute(core.db.schema('public'))
      await core.db.close()
    },
  }
  h.adminToken = await login(boot.adminUserId, ADMIN_PASSWORD, { project: { id: boot.adminProjectId } })
  return h
}
