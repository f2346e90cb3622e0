import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { LightMyRequestResponse } from 'fastify'
import { sql } from 'kysely'
import { createCore } from '../core/index.ts'
import { type IdentityHarness, identityHarness, jsonAnswer } from '../identity/testing.ts'
import type { ImageConfig } from './config.ts'
import { type Image, createImage } from './index.ts'
import type { ImageStore } from './store/image-store.ts'

/** The image service on an identity harness, for unit and functional tests. */
export interface ImageHarness {
  identity: IdentityHarness
  image: Image
  dataDir: string
  /** Calls the image API in-process; `token` defaults to the admin's. JSON bodies unless `payload`/`type` say otherwise. */
  call(method: string, url: string, o?: { token?: string | null; body?: unknown; payload?: string | Buffer; type?: string;
    headers?: Record<string, string> }): Promise<LightMyRequestResponse>
  /** The same, with the JSON body parsed. */
  json(method: string, url: string, o?: Parameters<ImageHarness['call']>[2]): Promise<{ status: number; body: any; headers: Record<string, unknown> }>
  /** A new project and a user with `role` on it: its id and a token scoped to it. */
  projectUser(role?: string): Promise<{ projectId: string; userId: string; token: string }>
  close(): Promise<void>
}

/**
 * IMAGE_TEST_DB=postgres://… runs the image tests on PostgreSQL (each harness in a fresh
 * schema); IDENTITY_TEST_DB does the same for the identity harness underneath.
 */
export async function imageHarness(o: { config?: Partial<ImageConfig>; store?: (dataDir: string) => ImageStore } = {}): Promise<ImageHarness> {
  const identity = await identityHarness()
  const url = process.env.IMAGE_TEST_DB ?? 'sqlite::memory:'
  const core = createCore({ database: url, logLevel: 'silent' })
  const schema = core.db.engine === 'postgres' ? `image_t${randomBytes(5).toString('hex')}` : 'image'
  const dataDir = mkdtempSync(join(tmpdir(), 'cumulo-image-'))
  const image = await createImage(core, { auth: identity.identity.auth, dataDir: join(dataDir, 'images'), schema,
    config: o.config, store: o.store?.(dataDir) })

  async function call(method: string, url: string, x: Parameters<ImageHarness['call']>[2] = {}) {
    const headers: Record<string, string> = { ...x.headers }
    const token = x.token === undefined ? identity.adminToken : x.token
    if (token) headers['x-auth-token'] = token
    let payload: string | Buffer | undefined = x.payload
    if (x.body !== undefined) payload = typeof x.body === 'string' ? x.body : JSON.stringify(x.body)
    if (payload !== undefined) headers['content-type'] = x.type ?? (x.body !== undefined ? 'application/json' : 'application/octet-stream')
    return image.api.inject({ method: method as any, url, headers, payload })
  }
  async function json(method: string, url: string, x: Parameters<ImageHarness['call']>[2] = {}) {
    return jsonAnswer(await call(method, url, x))
  }
  const projectUser = (role = 'member') => identity.projectUser(role, 'img')
  return {
    identity, image, dataDir, call, json, projectUser,
    async close() {
      await image.close()
      if (core.db.engine === 'postgres') await sql`DROP SCHEMA ${sql.id(schema)} CASCADE`.execute(core.db.schema('public'))
      await core.db.close()
      await identity.close()
      rmSync(dataDir, { recursive: true, force: true })
    },
  }
}
