import assert from 'node:assert/strict'
import { closeSync, existsSync, openSync, readSync, readdirSync, writeSync } from 'node:fs'
import http from 'node:http'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { after, before, describe, it, test } from 'node:test'
import { hashPath } from '../ring/hash.ts'
import { type BackendHandler, type BackendResponse, type BackendServer, callBackend, drainBody, readBody, serveBackend } from './backend.ts'
import { createObjectServer } from './object-server.ts'
import { HASH_CFG, call, freshTs, putCall, tempDevices } from './object-test-kit.ts'

describe('serveBackend / callBackend', () => {
  let server: BackendServer
  const seen: { method: string; path: string; query: string; headers: Record<string, string>; body: string }[] = []
  const handler: BackendHandler = async (req): Promise<BackendResponse> => {
    const body = req.body ? (await readBody({ status: 0, headers: {}, body: req.body })).toString() : ''
    seen.push({ method: req.method, path: req.path, query: req.query.toString(), headers: req.headers, body })
    if (req.path === '/throw') throw new Error('boom')
    if (req.path === '/broken') {
      let n = 0
      const s = new Readable({ read() { if (n++ < 3) this.push(Buffer.alloc(1000, 0x41)); else this.destroy(new Error('disk gone')) } })
      return { status: 200, headers: { 'content-length': '10000' }, body: s }
    }
    return { status: 201, headers: { 'x-echo': req.headers['x-thing'] ?? '' }, body: Buffer.from(`got ${body.length}`) }
  }
  before(async () => { server = await serveBackend(handler, { host: '127.0.0.1', port: 0 }) })
  after(() => server.close())

  it('carries method, raw path, query, lower-cased headers and body', async () => {
    const r = await call(server.url, { method: 'PUT', path: '/d/1/a/c/o%20x', query: 'multipart-manifest=get',
      headers: { 'X-Thing': 'v' }, body: Buffer.from('abc') })
    assert.equal(r.status, 201)
    assert.equal(r.text, 'got 3')
    assert.equal(r.headers['x-echo'], 'v')
    const s = seen[seen.length - 1]
    assert.deepEqual([s.method, s.path, s.query, s.headers['x-thing'], s.body], ['PUT', '/d/1/a/c/o%20x', 'multipart-manifest=get', 'v', 'abc'])
  })

  it('reuses keep-alive connections', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
    const ports = new Set<number>()
    agent.on('free', (sock) => ports.add(sock.localPort ?? 0))
    for (let i = 0; i < 5; i++) await readBody(await callBackend(server.url, { method: 'GET', path: '/x' }, { agent }))
    assert.equal(ports.size, 1)
    agent.destroy()
  })

  it('answers 500 when the handler throws', async () => {
    assert.equal((await call(server.url, { method: 'GET', path: '/throw' })).status, 500)
  })

  it('aborts the transfer when a streamed body fails', async () => {
    const r = await callBackend(server.url, { method: 'GET', path: '/broken' })
    assert.equal(r.status, 200)
    await assert.rejects(readBody(r))
  })

  it('calls in-process handlers with the same shapes', async () => {
    const r = await call(handler, { method: 'POST', path: '/p', headers: { 'X-Thing': 'w' }, body: Buffer.from('12345') })
    assert.equal(r.status, 201)
    assert.equal(r.text, 'got 5')
    assert.equal(r.headers['x-echo'], 'w')
  })

  it('rejects when nothing listens', async () => {
    await assert.rejects(callBackend('127.0.0.1:1', { method: 'GET', path: '/' }, { timeoutMs: 2000 }))
  })
})

describe('object server over real HTTP', () => {
  let env: ReturnType<typeof tempDevices>
  let server: BackendServer
  before(async () => {
    env = tempDevices(['sda'])
    server = await serveBackend(createObjectServer({ devicesRoot: env.root, hashConfig: HASH_CFG }), { host: '127.0.0.1', port: 0 })
  })
  after(async () => { await server.close(); env.cleanup() })

  it('PUT/GET/HEAD/POST/DELETE round trip', async () => {
    const big = Buffer.alloc(4 * 1024 * 1024 + 3)
    for (let i = 0; i < big.length; i += 7) big[i] = i & 0xff
    const put = await call(server.url, { method: 'PUT', path: '/sda/5/a/c/o%E2%82%AC',
      headers: { 'x-timestamp': freshTs(), 'content-type': 'x/y', 'x-object-meta-k': 'v' },
      body: Readable.from([big.subarray(0, 1000), big.subarray(1000)]) }) // chunked
    assert.equal(put.status, 201)
    const get = await call(server.url, { method: 'GET', path: '/sda/5/a/c/o%E2%82%AC' })
    assert.equal(get.status, 200)
    assert.ok(get.buf.equals(big))
    assert.equal(get.headers['x-object-meta-k'], 'v')
    const head = await call(server.url, { method: 'HEAD', path: '/sda/5/a/c/o%E2%82%AC' })
    assert.equal(head.headers['content-length'], String(big.length))
    assert.equal(head.buf.length, 0)
    const range = await call(server.url, { method: 'GET', path: '/sda/5/a/c/o%E2%82%AC', headers: { range: 'bytes=7-13' } })
    assert.equal(range.status, 206)
    assert.ok(range.buf.equals(big.subarray(7, 14)))
    assert.equal((await call(server.url, { method: 'POST', path: '/sda/5/a/c/o%E2%82%AC', headers: { 'x-timestamp': freshTs(), 'x-object-meta-k': 'w' } })).status, 202)
    assert.equal((await call(server.url, { method: 'HEAD', path: '/sda/5/a/c/o%E2%82%AC' })).headers['x-object-meta-k'], 'w')
    const td = freshTs()
    assert.equal((await call(server.url, { method: 'DELETE', path: '/sda/5/a/c/o%E2%82%AC', headers: { 'x-timestamp': td } })).status, 204)
    const gone = await call(server.url, { method: 'GET', path: '/sda/5/a/c/o%E2%82%AC' })
    assert.equal(gone.status, 404)
    assert.equal(gone.headers['x-backend-timestamp'], td)
    assert.equal((await call(server.url, { method: 'GET', path: '/nodev/5/a/c/o' })).status, 507)
  })

  it('answers early errors without reading a large body, then closes the connection', async () => {
    const r = await call(server.url, { method: 'PUT', path: '/nodev/5/a/c/o',
      headers: { 'x-timestamp': freshTs(), 'content-type': 'x/y' }, body: Readable.from([Buffer.alloc(8 * 1024 * 1024)]) })
    assert.equal(r.status, 507)
    const old = await call(server.url, { method: 'PUT', path: '/sda/5/a/c/early', headers: { 'x-timestamp': '1', 'content-type': 'x/y', 'content-length': '3' }, body: Buffer.from('abc') })
    assert.equal(old.status, 201)
  })

  it('a client that disconnects mid-upload leaves nothing visible', async () => {
    await new Promise<void>((resolve) => {
      const req = http.request(`${server.url}/sda/5/a/c/cut`, { method: 'PUT',
        headers: { 'x-timestamp': freshTs(), 'content-type': 'x/y', 'content-length': '1000000' } })
      req.on('error', () => resolve())
      req.write(Buffer.alloc(300_000))
      setTimeout(() => { req.destroy(); resolve() }, 50)
    })
    await new Promise((r) => setTimeout(r, 100))
    assert.equal((await call(server.url, { method: 'GET', path: '/sda/5/a/c/cut' })).status, 404)
    assert.deepEqual(readdirSync(join(env.root, 'sda', 'tmp')), [])
  })

  it('a corrupt object fails the transfer instead of delivering bad bytes', async () => {
    const big = Buffer.alloc(3 * 1024 * 1024, 0x63)
    assert.equal((await call(server.url, putCall('/sda/5/a/c/rot', big))).status, 201)
    const h = hashPath(HASH_CFG, 'a', 'c', 'rot')
    const dir = join(env.root, 'sda', 'objects', '5', h.slice(-3), h)
    const fd = openSync(join(dir, readdirSync(dir)[0]), 'r+')
    const pre = Buffer.alloc(8)
    readSync(fd, pre, 0, 8, 0)
    writeSync(fd, Buffer.from([0x64]), 0, 1, 24 + pre.readUInt32BE(4) + 1234)
    closeSync(fd)
    const r = await callBackend(server.url, { method: 'GET', path: '/sda/5/a/c/rot' })
    assert.equal(r.status, 200)
    await assert.rejects(readBody(r))
    assert.ok(existsSync(join(env.root, 'sda', 'quarantined', 'objects', h)))
  })
})

test('Swift verbs node:http does not know (REPLICATE, UPDATE) reach the handler over HTTP', async () => {
  const seen: string[] = []
  const srv = await serveBackend(async (req) => { seen.push(`${req.method} ${req.headers['x-backend-method'] ?? ''}`); return { status: 200, headers: {}, body: Buffer.from('ok') } },
    { host: '127.0.0.1', port: 0 })
  try {
    for (const method of ['REPLICATE', 'UPDATE', 'POST']) {
      const r = await callBackend(srv.url, { method, path: '/d1/1' })
      assert.equal(r.status, 200)
      drainBody(r)
    }
    assert.deepEqual(seen, ['REPLICATE ', 'UPDATE ', 'POST '])
  } finally { await srv.close() }
})
