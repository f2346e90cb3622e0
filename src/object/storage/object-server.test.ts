import assert from 'node:assert/strict'
import { existsSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { after, before, describe, it } from 'node:test'
import { hashPath } from '../ring/hash.ts'
import type { BackendHandler } from './backend.ts'
import { createObjectServer } from './object-server.ts'
import { HASH_CFG, call, freshTs, putCall, tempDevices } from './object-test-kit.ts'

describe('object server', () => {
  let env: ReturnType<typeof tempDevices>
  let srv: BackendHandler
  before(() => {
    env = tempDevices(['sda'])
    srv = createObjectServer({ devicesRoot: env.root, hashConfig: HASH_CFG })
  })
  after(() => env.cleanup())

  const hashDir = (obj: string, policy = 0) => {
    const h = hashPath(HASH_CFG, 'a', 'c', obj)
    return join(env.root, 'sda', policy ? `objects-${policy}` : 'objects', '7', h.slice(-3), h)
  }
  const tmpFiles = () => readdirSync(join(env.root, 'sda', 'tmp'))

  it('PUT then GET/HEAD returns the body, metadata and Swift headers', async () => {
    const ts = freshTs()
    const put = await call(srv, putCall('/sda/7/a/c/dir%2Fobj%20one', 'hello world', {
      'x-timestamp': ts, 'content-type': 'text/plain', 'x-object-meta-color': 'blue',
      'content-disposition': 'attachment', 'x-object-sysmeta-slo': 'yes', 'x-unknown-header': 'dropped',
    }))
    assert.equal(put.status, 201)
    assert.equal(put.headers.etag, '"5eb63bbbe01eeed093cb22bb8f5acdc3"')
    const get = await call(srv, { method: 'GET', path: '/sda/7/a/c/dir/obj%20one' })
    assert.equal(get.status, 200)
    assert.equal(get.text, 'hello world')
    assert.equal(get.headers['content-type'], 'text/plain')
    assert.equal(get.headers['content-length'], '11')
    assert.equal(get.headers['x-object-meta-color'], 'blue')
    assert.equal(get.headers['content-disposition'], 'attachment')
    assert.equal(get.headers['x-object-sysmeta-slo'], 'yes')
    assert.equal(get.headers['x-unknown-header'], undefined)
    assert.equal(get.headers['x-timestamp'], ts)
    assert.equal(get.headers['x-backend-timestamp'], ts)
    assert.equal(get.headers['last-modified'], new Date(Math.ceil(Number(ts)) * 1000).toUTCString())
    const head = await call(srv, { method: 'HEAD', path: '/sda/7/a/c/dir/obj%20one' })
    assert.equal(head.status, 200)
    assert.equal(head.headers['content-length'], '11')
    assert.equal(head.buf.length, 0)
    assert.equal(head.headers.etag, get.headers.etag)
    const files = readdirSync(hashDir('dir/obj one'))
    assert.deepEqual(files, [`${ts}.data`])
  })

  it('streams a large chunked PUT and reads it back whole', async () => {
    const big = Buffer.alloc(3 * 1024 * 1024 + 17)
    for (let i = 0; i < big.length; i++) big[i] = (i * 31) & 0xff
    const chunks = [big.subarray(0, 100_000), big.subarray(100_000, 2_000_000), big.subarray(2_000_000)]
    const put = await call(srv, { method: 'PUT', path: '/sda/7/a/c/big',
      headers: { 'x-timestamp': freshTs(), 'content-type': 'x/y', 'transfer-encoding': 'chunked' }, body: Readable.from(chunks) })
    assert.equal(put.status, 201)
    const get = await call(srv, { method: 'GET', path: '/sda/7/a/c/big' })
    assert.equal(get.status, 200)
    assert.equal(get.headers['content-length'], String(big.length))
    assert.ok(get.buf.equals(big))
  })

  it('rejects an older or equal PUT with 409 and X-Backend-Timestamp', async () => {
    const t1 = freshTs()
    const t2 = freshTs()
    assert.equal((await call(srv, putCall('/sda/7/a/c/ord', 'new', { 'x-timestamp': t2 }))).status, 201)
    const old = await call(srv, putCall('/sda/7/a/c/ord', 'old', { 'x-timestamp': t1 }))
    assert.equal(old.status, 409)
    assert.equal(old.headers['x-backend-timestamp'], t2)
    assert.equal((await call(srv, putCall('/sda/7/a/c/ord', 'same', { 'x-timestamp': t2 }))).status, 409)
    assert.equal((await call(srv, { method: 'GET', path: '/sda/7/a/c/ord' })).text, 'new')
  })

  it('concurrent writes of one object settle on the newest, one file left', async () => {
    const stamps = Array.from({ length: 12 }, () => freshTs())
    const order = [5, 0, 11, 3, 8, 1, 10, 2, 9, 4, 7, 6]
    const results = await Promise.all(order.map((i) => call(srv, putCall('/sda/7/a/c/race', `v${i}`, { 'x-timestamp': stamps[i] }))))
    assert.ok(results.every((r) => r.status === 201 || r.status === 409))
    assert.equal((await call(srv, { method: 'GET', path: '/sda/7/a/c/race' })).text, 'v11')
    assert.deepEqual(readdirSync(hashDir('race')), [`${stamps[11]}.data`])
  })

  it('DELETE writes a tombstone; GET is then 404 with X-Backend-Timestamp; older PUT is refused', async () => {
    const t0 = freshTs()
    await call(srv, putCall('/sda/7/a/c/del', 'x', { 'x-timestamp': freshTs(), 'content-type': 'text/x' }))
    const td = freshTs()
    const d = await call(srv, { method: 'DELETE', path: '/sda/7/a/c/del', headers: { 'x-timestamp': td } })
    assert.equal(d.status, 204)
    assert.equal(d.headers['x-backend-timestamp'], td)
    assert.equal(d.headers['x-backend-content-type'], 'text/x')
    assert.deepEqual(readdirSync(hashDir('del')), [`${td}.ts`])
    const g = await call(srv, { method: 'GET', path: '/sda/7/a/c/del' })
    assert.equal(g.status, 404)
    assert.equal(g.headers['x-backend-timestamp'], td)
    const h = await call(srv, { method: 'HEAD', path: '/sda/7/a/c/del' })
    assert.equal(h.status, 404)
    assert.equal(h.headers['x-backend-timestamp'], td)
    const late = await call(srv, putCall('/sda/7/a/c/del', 'y', { 'x-timestamp': t0 }))
    assert.equal(late.status, 409)
    assert.equal(late.headers['x-backend-timestamp'], td)
    // A DELETE of a missing object still leaves a tombstone, as Swift.
    const t3 = freshTs()
    const d2 = await call(srv, { method: 'DELETE', path: '/sda/7/a/c/never', headers: { 'x-timestamp': t3 } })
    assert.equal(d2.status, 404)
    assert.deepEqual(readdirSync(hashDir('never')), [`${t3}.ts`])
    // An older DELETE than the data is a conflict and changes nothing.
    const tput = freshTs()
    await call(srv, putCall('/sda/7/a/c/del2', 'z', { 'x-timestamp': tput }))
    const stale = await call(srv, { method: 'DELETE', path: '/sda/7/a/c/del2', headers: { 'x-timestamp': t0 } })
    assert.equal(stale.status, 409)
    assert.equal((await call(srv, { method: 'GET', path: '/sda/7/a/c/del2' })).text, 'z')
  })

  it('refuses a body whose md5 differs from the ETag with 422, leaving nothing behind', async () => {
    const r = await call(srv, putCall('/sda/7/a/c/bad-etag', 'abc', { etag: '"00000000000000000000000000000000"' }))
    assert.equal(r.status, 422)
    assert.equal(existsSync(hashDir('bad-etag')), false)
    assert.deepEqual(tmpFiles(), [])
    assert.equal((await call(srv, { method: 'GET', path: '/sda/7/a/c/bad-etag' })).status, 404)
    const ok = await call(srv, putCall('/sda/7/a/c/good-etag', 'abc', { etag: '900150983cd24fb0d6963f7d28e17f72' }))
    assert.equal(ok.status, 201)
  })

  it('answers 499 to a body shorter than Content-Length and stores nothing (large and small)', async () => {
    for (const size of [10, 200_000]) {
      const name = `short-${size}`
      const r = await call(srv, { method: 'PUT', path: `/sda/7/a/c/${name}`,
        headers: { 'x-timestamp': freshTs(), 'content-type': 'x/y', 'content-length': String(size + 5) },
        body: Readable.from([Buffer.alloc(size)]) })
      assert.equal(r.status, 499)
      assert.equal(existsSync(hashDir(name)), false)
      assert.deepEqual(tmpFiles(), [])
    }
    // A body that errors mid-way (client gone) is the same.
    const broken = new Readable({ read() { this.push(Buffer.alloc(100_000)); this.destroy(new Error('aborted')) } })
    const r = await call(srv, { method: 'PUT', path: '/sda/7/a/c/broken',
      headers: { 'x-timestamp': freshTs(), 'content-type': 'x/y', 'content-length': '1000000' }, body: broken })
    assert.equal(r.status, 499)
    assert.equal(existsSync(hashDir('broken')), false)
    assert.deepEqual(tmpFiles(), [])
  })

  it('validates PUT requests as Swift', async () => {
    const p = '/sda/7/a/c/v'
    assert.equal((await call(srv, putCall(p, 'x', { 'x-timestamp': 'nope' }))).status, 400)
    const noTs = putCall(p, 'x'); delete noTs.headers?.['x-timestamp']
    assert.equal((await call(srv, noTs)).status, 400)
    const noCt = putCall(p, 'x'); delete noCt.headers?.['content-type']
    assert.equal((await call(srv, noCt)).status, 400)
    const noLen = putCall(p, 'x'); delete noLen.headers?.['content-length']
    assert.equal((await call(srv, noLen)).status, 411)
    assert.equal((await call(srv, putCall(p, 'x', { 'x-delete-at': '1000' }))).status, 400)
    assert.equal((await call(srv, putCall(p, 'x', { 'x-object-meta-k': 'v'.repeat(257) }))).status, 400)
    assert.equal((await call(srv, putCall(`/sda/7/a/c/${'n'.repeat(1025)}`, 'x'))).status, 400)
    assert.equal((await call(srv, putCall('/sda/7/a/c', 'x'))).status, 400)
    assert.equal((await call(srv, putCall('/sda/7/a//o', 'x'))).status, 400)
    assert.equal((await call(srv, putCall(p, 'x', { 'x-backend-storage-policy-index': 'x' }))).status, 503)
    assert.equal((await call(srv, { method: 'PATCH', path: p })).status, 405)
  })

  it('answers 507 for a missing device', async () => {
    assert.equal((await call(srv, putCall('/sdz/7/a/c/o', 'x'))).status, 507)
    assert.equal((await call(srv, { method: 'GET', path: '/sdz/7/a/c/o' })).status, 507)
    assert.equal((await call(srv, { method: 'REPLICATE', path: '/sdz/7' })).status, 507)
  })

  it('PUT with If-None-Match: * fails with 412 when the object exists', async () => {
    assert.equal((await call(srv, putCall('/sda/7/a/c/inm', 'a', { 'if-none-match': '*' }))).status, 201)
    assert.equal((await call(srv, putCall('/sda/7/a/c/inm', 'b', { 'if-none-match': '*' }))).status, 412)
  })

  it('POST replaces user metadata with a .meta file and keeps the body facts', async () => {
    const tput = freshTs()
    await call(srv, putCall('/sda/7/a/c/post', 'body', { 'x-timestamp': tput, 'content-type': 'text/a',
      'x-object-meta-old': '1', 'x-object-sysmeta-keep': 'k' }))
    const tpost = freshTs()
    const p = await call(srv, { method: 'POST', path: '/sda/7/a/c/post',
      headers: { 'x-timestamp': tpost, 'x-object-meta-new': '2', 'content-type': 'text/b' } })
    assert.equal(p.status, 202)
    assert.equal(p.headers['x-backend-content-type'], 'text/b')
    const g = await call(srv, { method: 'GET', path: '/sda/7/a/c/post' })
    assert.equal(g.text, 'body')
    assert.equal(g.headers['x-object-meta-new'], '2')
    assert.equal(g.headers['x-object-meta-old'], undefined)
    assert.equal(g.headers['x-object-sysmeta-keep'], 'k')
    assert.equal(g.headers['content-type'], 'text/b')
    assert.equal(g.headers['x-timestamp'], tpost)
    assert.equal(g.headers['x-backend-data-timestamp'], tput)
    const files = readdirSync(hashDir('post')).sort()
    assert.deepEqual(files, [`${tput}.data`, `${tpost}+0.meta`])
    // Older POST: 409; POST on a missing object: 404.
    const stale = await call(srv, { method: 'POST', path: '/sda/7/a/c/post', headers: { 'x-timestamp': tput } })
    assert.equal(stale.status, 409)
    assert.equal((await call(srv, { method: 'POST', path: '/sda/7/a/c/nothing', headers: { 'x-timestamp': freshTs() } })).status, 404)
    // A later PUT supersedes the .meta.
    await call(srv, putCall('/sda/7/a/c/post', 'v2', { 'content-type': 'text/c' }))
    const g2 = await call(srv, { method: 'GET', path: '/sda/7/a/c/post' })
    assert.equal(g2.headers['x-object-meta-new'], undefined)
    assert.equal(g2.headers['content-type'], 'text/c')
    assert.equal(readdirSync(hashDir('post')).length, 1)
  })

  it('hides expired objects and honours X-If-Delete-At', async () => {
    const now = Math.floor(Date.now() / 1000)
    await call(srv, putCall('/sda/7/a/c/exp', 'e', { 'x-delete-at': String(now + 2) }))
    const future = String(Number(freshTs()) + 5)
    const g = await call(srv, { method: 'GET', path: '/sda/7/a/c/exp', headers: { 'x-timestamp': future } })
    assert.equal(g.status, 404)
    assert.ok(g.headers['x-backend-timestamp'])
    const open = await call(srv, { method: 'GET', path: '/sda/7/a/c/exp', headers: { 'x-timestamp': future, 'x-backend-open-expired': 'true' } })
    assert.equal(open.status, 200)
    const wrong = await call(srv, { method: 'DELETE', path: '/sda/7/a/c/exp', headers: { 'x-timestamp': freshTs(), 'x-if-delete-at': String(now + 99) } })
    assert.equal(wrong.status, 412)
    const right = await call(srv, { method: 'DELETE', path: '/sda/7/a/c/exp', headers: { 'x-timestamp': freshTs(), 'x-if-delete-at': String(now + 2) } })
    assert.equal(right.status, 204)
    const gone = await call(srv, { method: 'DELETE', path: '/sda/7/a/c/nope', headers: { 'x-timestamp': freshTs(), 'x-if-delete-at': String(now + 2) } })
    assert.equal(gone.status, 404)
  })

  it('accepts replication pushes verbatim (no container update, past X-Delete-At, ETag checked)', async () => {
    const ts = freshTs()
    const headers = {
      'x-timestamp': ts, 'content-type': 'text/r', 'x-backend-replication': 'True', 'x-delete-at': '1000',
      'x-object-meta-m': 'v', 'x-custom': 'kept', etag: '"0cc175b9c0f1b6a831c399e269772661"',
      'x-backend-replication-headers': 'content-type x-custom x-object-meta-m etag x-timestamp',
    }
    const r = await call(srv, putCall('/sda/7/a/c/repl', 'a', headers))
    assert.equal(r.status, 201)
    const g = await call(srv, { method: 'GET', path: '/sda/7/a/c/repl', headers: { 'x-backend-replication': 'true' } })
    assert.equal(g.status, 200)
    assert.equal(g.headers['x-object-meta-m'], 'v')
    assert.equal(g.headers['x-delete-at'], '1000')
    assert.equal((await call(srv, { method: 'GET', path: '/sda/7/a/c/repl' })).status, 404, 'expired for clients')
    const bad = await call(srv, putCall('/sda/7/a/c/repl2', 'b', { ...headers, 'x-timestamp': freshTs() }))
    assert.equal(bad.status, 422)
  })

  it('stores policy N objects under objects-N', async () => {
    const r = await call(srv, putCall('/sda/7/a/c/pol', 'p', { 'x-backend-storage-policy-index': '2' }))
    assert.equal(r.status, 201)
    assert.equal(readdirSync(hashDir('pol', 2)).length, 1)
    assert.equal((await call(srv, { method: 'GET', path: '/sda/7/a/c/pol' })).status, 404)
    assert.equal((await call(srv, { method: 'GET', path: '/sda/7/a/c/pol', headers: { 'x-backend-storage-policy-index': '2' } })).text, 'p')
  })

  it('REPLICATE returns suffix hashes that change when a file changes', async () => {
    const { root, cleanup } = tempDevices(['sdb'])
    try {
      const s = createObjectServer({ devicesRoot: root, hashConfig: HASH_CFG })
      assert.deepEqual(JSON.parse((await call(s, { method: 'REPLICATE', path: '/sdb/3' })).text), {})
      await call(s, putCall('/sdb/3/a/c/r1', 'one'))
      const h1 = JSON.parse((await call(s, { method: 'REPLICATE', path: '/sdb/3' })).text) as Record<string, string>
      const suffix = hashPath(HASH_CFG, 'a', 'c', 'r1').slice(-3)
      assert.deepEqual(Object.keys(h1), [suffix])
      assert.match(h1[suffix], /^[0-9a-f]{32}$/)
      // Same state → same hash; a new write → new hash.
      assert.deepEqual(JSON.parse((await call(s, { method: 'REPLICATE', path: '/sdb/3' })).text), h1)
      await call(s, putCall('/sdb/3/a/c/r1', 'two'))
      const h2 = JSON.parse((await call(s, { method: 'REPLICATE', path: `/sdb/3/${suffix}` })).text) as Record<string, string>
      assert.notEqual(h2[suffix], h1[suffix])
      await call(s, { method: 'DELETE', path: '/sdb/3/a/c/r1', headers: { 'x-timestamp': freshTs() } })
      const h3 = JSON.parse((await call(s, { method: 'REPLICATE', path: '/sdb/3' })).text) as Record<string, string>
      assert.notEqual(h3[suffix], h2[suffix])
      assert.ok(existsSync(join(root, 'sdb', 'objects', '3', 'hashes.json')))
    } finally {
      cleanup()
    }
  })
})
