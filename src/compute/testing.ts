import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { LightMyRequestResponse } from 'fastify'
import { sql } from 'kysely'
import { createCore } from '../core/index.ts'
import { type IdentityHarness, identityHarness, jsonAnswer } from '../identity/testing.ts'
import { type Image, createImage } from '../image/index.ts'
import { type Compute, createCompute } from './index.ts'

/** The compute service on an identity harness, for unit and functional tests. */
export interface ComputeHarness {
  identity: IdentityHarness
  compute: Compute
  /** A real image service (Glance v2) on the same identity, listening on 127.0.0.1 (`imageUrl`). */
  image: Image
  imageUrl: string
  /** Creates an active image owned by the admin's project (public unless told otherwise); returns its id. */
  makeImage(o?: { name?: string; visibility?: string; data?: Buffer; minRam?: number; minDisk?: number; token?: string }): Promise<string>
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
  const imageDir = mkdtempSync(join(tmpdir(), 'cumulo-compute-img-'))
  const image = await createImage(core, { auth: identity.identity.auth, dataDir: imageDir,
    schema: core.db.engine === 'postgres' ? `${schema}_img` : 'image' })
  await image.api.listen({ host: '127.0.0.1', port: 0 })
  const addr = image.api.server.address() as AddressInfo
  const imageUrl = `http://127.0.0.1:${addr.port}`
  const compute = await createCompute(core, { auth: identity.identity.auth, schema, imageUrl })

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
  async function makeImage(o: Parameters<ComputeHarness['makeImage']>[0] = {}): Promise<string> {
    const token = o.token ?? identity.adminToken
    const r = await image.api.inject({ method: 'POST', url: '/v2/images', headers: { 'x-auth-token': token, 'content-type': 'application/json' },
      payload: JSON.stringify({ name: o.name ?? 'test-image', disk_format: 'qcow2', container_format: 'bare',
        visibility: o.visibility ?? 'public', min_ram: o.minRam ?? 0, min_disk: o.minDisk ?? 0 }) })
    if (r.statusCode !== 201) throw new Error(`image create: ${r.statusCode} ${r.body}`)
    const id = (r.json() as { id: string }).id
    const up = await image.api.inject({ method: 'PUT', url: `/v2/images/${id}/file`,
      headers: { 'x-auth-token': token, 'content-type': 'application/octet-stream' }, payload: o.data ?? Buffer.from('not really a disk') })
    if (up.statusCode !== 204) throw new Error(`image upload: ${up.statusCode} ${up.body}`)
    return id
  }
  return {
    identity, compute, image, imageUrl, makeImage, call, json, projectUser,
    async close() {
      await compute.close()
      await image.close()
      rmSync(imageDir, { recursive: true, force: true })
      if (core.db.engine === 'postgres') {
        await sql`DROP SCHEMA ${sql.id(schema)} CASCADE`.execute(core.db.schema('public'))
        await sql`DROP SCHEMA IF EXISTS ${sql.id(`${schema}_img`)} CASCADE`.execute(core.db.schema('public'))
      }
      await core.db.close()
      await identity.close()
    },
  }
}
