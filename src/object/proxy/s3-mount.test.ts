// S3 served on the Swift proxy's port: SigV4 requests and non-Swift paths reach the S3 handler
// (over ProxyS3Storage), Swift requests still reach Swift, and both see the same objects.
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import type { IncomingMessage } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { createCore } from '../../core/index.ts'
import { type IdentityHarness, identityHarness } from '../../identity/testing.ts'
import { type ObjectStore, createObjectStore } from '../index.ts'
import { S3TestClient } from '../s3/testing.ts'
import { isS3Request } from './s3-mount.ts'

const req = (url: string, headers: Record<string, string> = {}) => ({ url, headers }) as unknown as IncomingMessage

describe('isS3Request', () => {
  it('routes SigV4, presigned and non-Swift paths to S3, the rest to Swift', () => {
    assert.equal(isS3Request(req('/v1/AUTH_x/c', { authorization: 'AWS4-HMAC-SHA256 Credential=...' })), true)
    assert.equal(isS3Request(req('/v1/AUTH_x/c?X-Amz-Algorithm=AWS4-HMAC-SHA256')), true)
    assert.equal(isS3Request(req('/bucket/key')), true)
    assert.equal(isS3Request(req('/')), true)
    assert.equal(isS3Request(req('/v1/AUTH_x/c')), false)
    assert.equal(isS3Request(req('/auth/v1.0')), false)
    assert.equal(isS3Request(req('/info')), false)
    assert.equal(isS3Request(req('/v1.0/AUTH_x')), false)
  })
})

describe('S3 on the proxy port', () => {
  let h: IdentityHarness
  let store: ObjectStore
  let dir: string
  let base: string
  let s3: S3TestClient
  let projectId: string
  const core = createCore({ database: 'sqlite::memory:', logLevel: 'silent' })

  before(async () => {
    h = await identityHarness()
    projectId = h.adminProjectId
    dir = mkdtempSync(join(tmpdir(), 'cumulo-s3-mount-'))
    const keys = new Map([['AKIATEST', { secret: 'test-secret', projectId, userId: 'u-test' }]])
    store = await createObjectStore(core, { auth: h.identity.auth, dataDir: dir, partPower: 4, daemons: false,
      ec2Credentials: async (ak) => keys.get(ak) })
    await store.api.listen({ host: '127.0.0.1', port: 0 })
    base = `http://127.0.0.1:${(store.api.server.address() as AddressInfo).port}`
    s3 = new S3TestClient(base, { accessKey: 'AKIATEST', secret: 'test-secret', region: 'RegionOne' })
  })
  after(async () => {
    await store?.close()
    await core.db.close()
    await h?.close()
    rmSync(dir, { recursive: true, force: true })
  })

  it('creates a bucket and an object over S3 that Swift then serves', async () => {
    assert.equal((await s3.request('PUT', '/mount-bucket')).status, 200)
    const put = await s3.request('PUT', '/mount-bucket/k.txt', { body: 'hello', headers: { 'content-type': 'text/x-test' } })
    assert.equal(put.status, 200, put.text)
    const got = await s3.request('GET', '/mount-bucket/k.txt')
    assert.equal(got.text, 'hello')
    assert.equal(got.headers['content-type'], 'text/x-test')
    const sw = await store.api.inject({ method: 'GET', url: `/v1/AUTH_${projectId}/mount-bucket/k.txt`, headers: { 'x-auth-token': h.adminToken } })
    assert.equal(sw.statusCode, 200)
    assert.equal(sw.body, 'hello')
    const list = await s3.request('GET', '/')
    assert.match(list.text, /<Name>mount-bucket<\/Name>/)
  })

  it('answers S3 errors for unsigned S3 paths and leaves Swift errors to Swift', async () => {
    const anon = await fetch(`${base}/mount-bucket/k.txt`)
    assert.equal(anon.status, 403)
    assert.match(await anon.text(), /<Code>AccessDenied<\/Code>/)
    const sw = await fetch(`${base}/v1/AUTH_${projectId}/mount-bucket/k.txt`)
    assert.equal(sw.status, 401)
  })
})
