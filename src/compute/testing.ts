import { randomBytes } from 'node:crypto'
import type { LightMyRequestResponse } from 'fastify'
import { sql } from 'kysely'
import { createCore } from '../core/index.ts'
import { type IdentityHarness, identityHarness, jsonAnswer } from '../identity/testing.ts'
import { type Compute, createCompute } from './index.ts'

/** The compute service on an identity harness, for unit and functional tests. */
export interface ComputeHarness {
  identity: IdentityHarness
  compute: Compute
  /**
   * Calls the compute API in-process; `token` defaults to the admin's, `version` (a
   * microversion, sent as OpenStack-API-Version) to none.
   */
  call(method: string, url: string, o?: { token?: string | null; body?: unknown; version?: string;
    headers?: Record<string, string> }): Promise<LightMyRequestResponse>
  /** The same, with the JSON body parsed. */
  json(method: string, url: string, o?: Parameters<ComputeHarness['call']>[2]): Promise<{ status: number; body: any; headers: Record<string, unknown> }>
  /** A new project and a user with `role` on it: ids and a token scoped to it. */
  projectUser(role?: string): Promise<{ projectId: string; userId: string; token: string }>
  close(): Promise<void>
}

/** COMPUTE_TEST_DB=postgres://… runs the compute tests on PostgreSQL (each harness in a fresh schema). */
export async function computeHarness(): Promise<ComputeHarness> {
  const identity = await identityHarness()
  const core = createCore({ database: process.env.COMPUTE_TEST_DB ?? 'sqlite::memory:', logLevel: 'silent' })
  const schema = core.db.engine === 'postgres' ? `compute_t${randomBytes(5).toString('hex')}` : 'compute'
  const compute = await createCompute(core, { auth: identity.identity.auth, schema })

  async function call(method: string, url: string, x: Parameters<ComputeHarness['call']>[2] = {}) {
    const headers: Record<string, string> = { ...x.headers }
    const token = x.token === undefined ? identity.adminToken : x.token
    if (token) headers['x-auth-token'] = token
    if (x.version) headers['openstack-api-version'] = `compute ${x.version}`
    let payload: string | undefined
    if (x.body !== undefined) {
      payload = typeof x.body === 'string' ? x.body : JSON.stringify(x.body)
      headers['content-type'] = 'application/json'
    }
    return compute.api.inject({ method: method as any, url, headers, payload })
  }
  async function json(method: string, url: string, x: Parameters<ComputeHarness['call']>[2] = {}) {
    return jsonAnswer(await call(method, url, x))
  }
  const projectUser = (role = 'member') => identity.projectUser(role, 'nova')
  return {
    identity, compute, call, json, projectUser,
    async close() {
      await compute.close()
      if (core.db.engine === 'postgres') await sql`DROP SCHEMA ${sql.id(schema)} CASCADE`.execute(core.db.schema('public'))
      await core.db.close()
      await identity.close()
    },
  }
}
