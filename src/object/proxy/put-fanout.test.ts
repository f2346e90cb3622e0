import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { Readable } from 'node:stream'
import { setTimeout as sleep } from 'node:timers/promises'
import { describe, it } from 'node:test'
import { type BackendRequest, type BackendResponse, type BackendServer, serveBackend } from '../storage/backend.ts'
import { SwiftError } from './errors.ts'
import { type FakeDevice, fakeCluster } from './fake-nodes.ts'
import { putFanout } from './put-fanout.ts'

const PART = 3
const MB = 1024 * 1024

/** A node that stores the body: answers 201 with the body's md5 (or fails after `failAfter` bytes). */
function storing(d: FakeDevice, o: { failAfter?: number; delayMs?: number; got?: Map<number, { bytes: number; md5: string }> } = {}) {
  d.answer = async (req: BackendRequest): Promise<BackendResponse> => {
    const md5 = createHash('md5')
    let n = 0
    try {
      for await (const c of req.body!) {
        n += (c as Buffer).length
        md5.update(c as Buffer)
        if (o.failAfter !== undefined && n >= o.failAfter) return { status: 500, headers: {} }
        if (o.delayMs) await sleep(o.delayMs)
      }
    } catch {
      return { status: 499, headers: {} }
    }
    const hex = md5.digest('hex')
    o.got?.set(d.dev.id, { bytes: n, md5: hex })
    return { status: 201, headers: { etag: `"${hex}"` } }
  }
}

/** A body of `size` bytes made lazily in `chunk`-sized pieces; `produced` counts what was read. */
function source(size: number, chunk = 64 * 1024) {
  const state = { produced: 0, md5: createHash('md5') }
  const body = Readable.from((function* () {
    while (state.produced < size) {
      const b = Buffer.alloc(Math.min(chunk, size - state.produced), state.produced & 0xff)
      state.produced += b.length
      state.md5.update(b)
      yield b
    }
  })())
  return { body, state }
}

const opts = (client: ReturnType<typeof fakeCluster>['client'], body: Readable | undefined, size?: number) => ({
  client, part: PART, policy: 0, path: '/a/c/o', headers: [{}, {}, {}], body, contentLength: size,
  maxBytes: 5 * 1024 * MB, clientTimeoutMs: 5000, nodeTimeoutMs: 1000,
})

describe('object PUT fan-out', () => {
  it('streams one body to the three primaries; all store the same bytes', async () => {
    const { devices, client } = fakeCluster(3)
    const got = new Map<number, { bytes: number; md5: string }>()
    for (const d of devices) storing(d, { got })
    const { body, state } = source(3 * MB + 17)
    const r = await putFanout(opts(client, body, 3 * MB + 17))
    assert.equal(r.status, 201)
    const md5 = state.md5.digest('hex')
    assert.equal(r.headers.etag, md5)
    assert.equal(got.size, 3)
    for (const v of got.values()) assert.deepEqual(v, { bytes: 3 * MB + 17, md5 })
    for (const d of devices) assert.equal(d.calls[0]!.headers['content-length'], String(3 * MB + 17))
  })

  it('a primary answering 507 before the body is replaced by a handoff that gets the whole body', async () => {
    const { ring, devices, byId, client } = fakeCluster(5)
    const got = new Map<number, { bytes: number; md5: string }>()
    for (const d of devices) storing(d, { got })
    const [p0] = ring.getPartNodes(PART)
    byId(p0!.id).answer = async () => ({ status: 507, headers: {} })
    const { body } = source(MB)
    const r = await putFanout({ ...opts(client, body, undefined) })
    assert.equal(r.status, 201)
    const handoff = [...ring.getMoreNodes(PART)][0]!
    assert.equal(got.get(handoff.id)?.bytes, MB)
    assert.equal(got.size, 3)
    assert.equal(byId(handoff.id).calls[0]!.headers['transfer-encoding'], 'chunked')
  })

  it('one node failing mid-stream leaves a quorum: 201; two failing: 503', async () => {
    const { ring, devices, byId, client } = fakeCluster(3)
    const got = new Map<number, { bytes: number; md5: string }>()
    for (const d of devices) storing(d, { got })
    const [p0, p1] = ring.getPartNodes(PART)
    storing(byId(p0!.id), { failAfter: MB })
    const r = await putFanout(opts(client, source(4 * MB).body, 4 * MB))
    assert.equal(r.status, 201)
    assert.equal(got.size, 2)
    storing(byId(p1!.id), { failAfter: MB })
    const r2 = await putFanout(opts(client, source(4 * MB).body, 4 * MB))
    assert.equal(r2.status, 503)
  })

  it('without enough nodes nothing of the body is read', async () => {
    const { ring, byId, devices, client } = fakeCluster(3)
    for (const d of devices) storing(d)
    const [p0, p1] = ring.getPartNodes(PART)
    byId(p0!.id).answer = async () => ({ status: 507, headers: {} })
    byId(p1!.id).answer = async () => { throw new Error('connection refused') }
    const { body, state } = source(MB)
    const r = await putFanout(opts(client, body, MB))
    assert.equal(r.status, 503)
    assert.equal(state.produced, 0)
  })

  it('keeps memory bounded: a slow node holds back reading the source', async () => {
    const { ring, devices, byId, client } = fakeCluster(3)
    const consumed = new Map<number, number>()
    for (const d of devices) {
      d.answer = async (req) => {
        let n = 0
        for await (const c of req.body!) {
          n += (c as Buffer).length
          consumed.set(d.dev.id, n)
          if (d.dev.id === ring.getPartNodes(PART)[2]!.id) await sleep(1)
        }
        return { status: 201, headers: { etag: '"x"' } }
      }
    }
    const { body, state } = source(32 * MB)
    let maxAhead = 0
    const slow = byId(ring.getPartNodes(PART)[2]!.id).dev.id
    const watch = setInterval(() => { maxAhead = Math.max(maxAhead, state.produced - (consumed.get(slow) ?? 0)) }, 1)
    const r = await putFanout(opts(client, body, 32 * MB))
    clearInterval(watch)
    assert.equal(r.status, 201)
    assert.ok(maxAhead <= 2 * MB, `source ran ${maxAhead} bytes ahead of the slowest node`)
  })

  it('If-None-Match hit (412) and a newer copy (409 → 202) end the PUT before the body', async () => {
    const { ring, devices, byId, client } = fakeCluster(3)
    for (const d of devices) storing(d)
    const [p0] = ring.getPartNodes(PART)
    byId(p0!.id).answer = async () => ({ status: 412, headers: {} })
    const a = source(MB)
    assert.equal((await putFanout(opts(client, a.body, MB))).status, 412)
    assert.equal(a.state.produced, 0)
    byId(p0!.id).answer = async () => ({ status: 409, headers: { 'x-backend-timestamp': '1800000000.00000' } })
    assert.equal((await putFanout(opts(client, source(MB).body, MB))).status, 202)
  })

  it('a client that disconnects or sends too little gets 499, and the nodes discard the upload', async () => {
    const { devices, client } = fakeCluster(3)
    const got = new Map<number, { bytes: number; md5: string }>()
    for (const d of devices) storing(d, { got })
    const broken = Readable.from((async function* () { yield Buffer.alloc(1000); throw new Error('ECONNRESET') })())
    await assert.rejects(putFanout(opts(client, broken, 5000)), (e: unknown) => e instanceof SwiftError && e.status === 499)
    await assert.rejects(putFanout(opts(client, source(1000).body, 5000)), (e: unknown) => e instanceof SwiftError && e.status === 499)
    await sleep(20)
    assert.equal(got.size, 0)
    await assert.rejects(putFanout(opts(client, source(6000).body, 5000)), (e: unknown) => e instanceof SwiftError && e.status === 413)
  })

  it('works the same with nodes reached over HTTP (serveBackend / callBackend)', async () => {
    // Reserve three ports, then build the ring on them and serve the fakes there.
    const probes = await Promise.all([0, 1, 2].map(() => serveBackend(async () => ({ status: 200, headers: {} }), { host: '127.0.0.1', port: 0 })))
    const ports = probes.map((p) => p.port)
    await Promise.all(probes.map((p) => p.close()))
    const { ring, devices, byId, client, handler } = fakeCluster(3, 3, { ports, remote: true })
    const servers: BackendServer[] = []
    try {
      for (const p of ports) servers.push(await serveBackend(handler(p), { host: '127.0.0.1', port: p }))
      const got = new Map<number, { bytes: number; md5: string }>()
      for (const d of devices) storing(d, { got })
      const { body, state } = source(2 * MB + 3)
      const r = await putFanout(opts(client, body, undefined))
      assert.equal(r.status, 201)
      assert.equal(r.headers.etag, state.md5.digest('hex'))
      assert.equal(got.size, 3)
      storing(byId(ring.getPartNodes(PART)[0]!.id), { failAfter: MB })
      assert.equal((await putFanout(opts(client, source(3 * MB).body, 3 * MB))).status, 201)
      for (const d of devices) d.answer = undefined
      assert.equal((await client.writeAll('container', PART, 'PUT', '/a/c', [{}, {}, {}])).status, 201)
    } finally {
      for (const s of servers) await s.close()
    }
  })
})
