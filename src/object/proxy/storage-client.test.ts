import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { readBody } from '../storage/backend.ts'
import { fakeCluster } from './fake-nodes.ts'

const PART = 3
const reply = (status: number, headers: Record<string, string> = {}, body?: string) =>
  async () => ({ status, headers, body: body === undefined ? undefined : Buffer.from(body) })

describe('storage client', () => {
  it('a write succeeds on a quorum when one primary fails and no handoff exists', async () => {
    const { ring, byId, client } = fakeCluster(3)
    const [p0, p1, p2] = ring.getPartNodes(PART)
    byId(p1!.id).answer = reply(500)
    const a = await client.writeAll('container', PART, 'PUT', '/a/c', [{}, {}, {}])
    assert.equal(a.status, 201)
    assert.equal(byId(p0!.id).calls.length, 1)
    assert.equal(byId(p2!.id).calls.length, 1)
    assert.equal(byId(p1!.id).calls[0]!.path, `/${p1!.device}/${PART}/a/c`)
  })

  it('a write fails (503) when only one of three primaries answers', async () => {
    const { ring, byId, client } = fakeCluster(3)
    const [, p1, p2] = ring.getPartNodes(PART)
    byId(p1!.id).answer = reply(503)
    byId(p2!.id).answer = async () => { throw new Error('connection refused') }
    const a = await client.writeAll('container', PART, 'PUT', '/a/c', [{}, {}, {}])
    assert.equal(a.status, 503)
  })

  it('a primary answering 507 is replaced by a handoff, which gets that primary\'s headers', async () => {
    const { ring, devices, byId, client } = fakeCluster(5)
    const primaries = ring.getPartNodes(PART)
    const handoff = [...ring.getMoreNodes(PART)][0]!
    byId(primaries[0]!.id).answer = reply(507)
    const a = await client.writeAll('object', PART, 'PUT', '/a/c/o', [{ n: '0' }, { n: '1' }, { n: '2' }])
    assert.equal(a.status, 201)
    const got = byId(handoff.id).calls
    assert.equal(got.length, 1)
    assert.equal(got[0]!.headers.n, '0')
    assert.equal(got[0]!.path, `/${handoff.device}/${PART}/a/c/o`)
    // 507 error-limits the device: the next write skips it at once.
    const before = byId(primaries[0]!.id).calls.length
    assert.equal((await client.writeAll('object', PART, 'PUT', '/a/c/o', [{}, {}, {}])).status, 201)
    assert.equal(byId(primaries[0]!.id).calls.length, before)
    assert.equal(devices.reduce((n, d) => n + d.calls.length, 0), 7)
  })

  it('best response: 404s agreed by a quorum win; DELETE 404s count as 204 only without a quorum', async () => {
    const { ring, byId, client } = fakeCluster(3)
    const [p0, p1, p2] = ring.getPartNodes(PART)
    byId(p0!.id).answer = reply(404)
    byId(p1!.id).answer = reply(404)
    assert.equal((await client.writeAll('object', PART, 'DELETE', '/a/c/o', [{}, {}, {}], { overrides: { 404: 204 } })).status, 404)
    byId(p1!.id).answer = reply(500)
    byId(p2!.id).answer = reply(204)
    assert.equal((await client.writeAll('object', PART, 'DELETE', '/a/c/o', [{}, {}, {}], { overrides: { 404: 204 } })).status, 204)
  })

  it('container reads: the newest replica wins; GET lists from it', async () => {
    const { ring, byId, client } = fakeCluster(3)
    const [p0, p1, p2] = ring.getPartNodes(PART)
    const node = (ts: string, listing: string) => async (req: { method: string }) =>
      ({ status: req.method === 'GET' ? 200 : 204, headers: { 'x-backend-put-timestamp': ts, 'x-container-meta-v': ts }, body: req.method === 'GET' ? Buffer.from(listing) : undefined })
    byId(p0!.id).answer = node('1700000001.00000', 'old')
    byId(p1!.id).answer = node('1700000003.00000', 'newest')
    byId(p2!.id).answer = node('1700000002.00000', 'mid')
    const head = await client.readNewest('container', PART, 'HEAD', '/a/c', {})
    assert.equal(head.headers['x-container-meta-v'], '1700000003.00000')
    const get = await client.readNewest('container', PART, 'GET', '/a/c', {}, new URLSearchParams('format=json'))
    assert.equal(get.body.toString(), 'newest')
    assert.equal(byId(p1!.id).calls.at(-1)!.query.get('format'), 'json')
    // The newest replica fails its GET: the next newest answers.
    byId(p1!.id).answer = async (req) => (req.method === 'GET' ? { status: 500, headers: {} } : node('1700000003.00000', '')(req))
    assert.equal((await client.readNewest('container', PART, 'GET', '/a/c', {})).body.toString(), 'mid')
  })

  it('container reads: 404 only when all say 404; a missing replica does not hide the others', async () => {
    const { ring, byId, client } = fakeCluster(3)
    const [p0, p1, p2] = ring.getPartNodes(PART)
    byId(p0!.id).answer = reply(404)
    byId(p1!.id).answer = reply(204, { 'x-backend-put-timestamp': '1700000000.00000' })
    byId(p2!.id).answer = reply(404)
    assert.equal((await client.readNewest('container', PART, 'HEAD', '/a/c', {})).status, 204)
    byId(p1!.id).answer = reply(404)
    assert.equal((await client.readNewest('container', PART, 'HEAD', '/a/c', {})).status, 404)
    byId(p1!.id).answer = reply(503)
    byId(p2!.id).answer = async () => { throw new Error('down') }
    assert.equal((await client.readNewest('container', PART, 'HEAD', '/a/c', {})).status, 503)
  })

  it('object reads fall back from a failed or empty primary to the next, then to handoffs', async () => {
    const { ring, byId, client, devices } = fakeCluster(5)
    for (const d of devices) d.answer = reply(404)
    const [p0, p1, p2] = ring.getPartNodes(PART)
    const [h0] = [...ring.getMoreNodes(PART)]
    byId(p0!.id).answer = reply(404)
    byId(p1!.id).answer = reply(503)
    byId(p2!.id).answer = reply(404)
    byId(h0!.id).answer = reply(200, { etag: '"x"' }, 'from handoff')
    const r = await client.readObject(PART, 'GET', '/a/c/o', {})
    assert.equal(r.status, 200)
    assert.equal((await readBody(r)).toString(), 'from handoff')
    byId(h0!.id).answer = reply(404)
    assert.equal((await client.readObject(PART, 'GET', '/a/c/o', {})).status, 404)
  })

  it('object reads with X-Newest take the newest copy', async () => {
    const { ring, byId, client } = fakeCluster(3)
    const [p0, p1, p2] = ring.getPartNodes(PART)
    byId(p0!.id).answer = reply(200, { 'x-backend-timestamp': '1700000001.00000' }, 'v1')
    byId(p1!.id).answer = reply(200, { 'x-backend-timestamp': '1700000002.00000' }, 'v2')
    byId(p2!.id).answer = reply(404)
    assert.equal((await readBody(await client.readObject(PART, 'GET', '/a/c/o', {}))).toString(), 'v1')
    assert.equal((await readBody(await client.readObject(PART, 'GET', '/a/c/o', {}, { newest: true }))).toString(), 'v2')
  })
})
