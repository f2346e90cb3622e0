import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { type SwiftFixture, swiftFixture } from './test-kit.ts'

let f: SwiftFixture
let base: string
before(async () => {
  f = await swiftFixture()
  base = `/v1/${f.account}`
})
after(async () => { await f.close() })

const md5 = (s: string) => createHash('md5').update(s).digest('hex')
const MARKER = 'application/x-deleted;swift_versions_deleted=1'
type Row = Record<string, unknown>

async function versions(c: string, query = ''): Promise<Row[]> {
  const r = await f.call('GET', `${base}/${c}?versions&format=json${query}`)
  assert.equal(r.headers['content-type'], 'application/json; charset=utf-8')
  return r.statusCode === 204 ? [] : (JSON.parse(r.body) as Row[]).map(({ last_modified: _, ...rest }) => rest)
}

async function put(path: string, body: string, headers: Record<string, string> = {}) {
  const r = await f.call('PUT', `${base}/${path}`, { body, headers })
  assert.equal(r.statusCode, 201, r.body)
  return r
}

async function versioned(c: string) {
  assert.equal((await f.call('PUT', `${base}/${c}`, { headers: { 'x-versions-enabled': 'true' } })).statusCode, 201)
}

describe('object versioning: containers', () => {
  it('publishes object_versioning in /info', async () => {
    const info = JSON.parse((await f.call('GET', '/info', { token: null })).body)
    assert.deepEqual(info.object_versioning, {})
    assert.deepEqual(info.versioned_writes, { allowed_flags: ['x-versions-location', 'x-history-location'] })
  })

  it('enables and disables versioning; the versions container stays hidden', async () => {
    await versioned('ve')
    assert.equal((await f.call('HEAD', `${base}/ve`)).headers['x-versions-enabled'], 'True')
    const names = JSON.parse((await f.call('GET', `${base}?format=json`)).body).map((c: Row) => c.name)
    assert.ok(names.includes('ve'))
    assert.ok(!names.some((n: string) => n.includes('\u0000')), 'no reserved name listed')
    assert.equal((await f.call('GET', `${base}/%00versions%00ve`)).statusCode, 412) // clients cannot name it
    assert.equal((await f.call('POST', `${base}/ve`, { headers: { 'x-versions-enabled': 'false' } })).statusCode, 204)
    assert.equal((await f.call('HEAD', `${base}/ve`)).headers['x-versions-enabled'], 'False')
  })

  it('refuses to mix with legacy versioning or container sync', async () => {
    await f.call('PUT', `${base}/legacy`, { headers: { 'x-versions-location': 'elsewhere' } })
    const r = await f.call('POST', `${base}/legacy`, { headers: { 'x-versions-enabled': 'true' } })
    assert.equal(r.statusCode, 400)
    assert.match(r.body, /legacy versioned writes/)
  })

  it('refuses non-owners before creating anything', async () => {
    const other = await f.user('ov-other')
    await f.call('PUT', `${base}/notyours`, { headers: { 'x-container-write': `${other.projectId}:*`, 'x-container-read': `${other.projectId}:*` } })
    const r = await f.call('POST', `${base}/notyours`, { token: other.token, headers: { 'x-versions-enabled': 'true' } })
    assert.equal(r.statusCode, 403)
    assert.equal((await f.call('HEAD', `${base}/notyours`)).headers['x-versions-enabled'], undefined)
  })

  it('counts the versions in the container and account bytes, and deletes only without versions', async () => {
    await versioned('bytes')
    await put('bytes/o', 'aaaa')
    await put('bytes/o', 'bbbbbb')
    const h = await f.call('HEAD', `${base}/bytes`)
    assert.equal(h.headers['x-container-object-count'], '1')
    assert.equal(h.headers['x-container-bytes-used'], '10')
    // (Account rows follow container stats asynchronously, through the container updater.)
    const acct = JSON.parse((await f.call('GET', `${base}?format=json&prefix=bytes`)).body)
    assert.deepEqual(acct.map((c: Row) => c.name), ['bytes'])
    assert.equal((await f.call('DELETE', `${base}/bytes/o`)).statusCode, 204)
    const refused = await f.call('DELETE', `${base}/bytes`)
    assert.equal(refused.statusCode, 409)
    assert.match(refused.body, /Delete all versions/)
    for (const row of await versions('bytes')) {
      assert.equal((await f.call('DELETE', `${base}/bytes/o?version-id=${row.version_id}`)).statusCode, 204)
    }
    assert.equal((await f.call('DELETE', `${base}/bytes`)).statusCode, 204)
    const after = JSON.parse((await f.call('GET', `${base}?format=json&prefix=bytes`)).body)
    assert.deepEqual(after, [])
  })
})

describe('object versioning: objects', () => {
  it('keeps every version and serves each by id', async () => {
    await versioned('docs')
    const v1 = (await put('docs/a', 'one', { 'content-type': 'text/one', 'x-object-meta-n': '1' })).headers['x-object-version-id'] as string
    const v2 = (await put('docs/a', 'two!', { 'content-type': 'text/two' })).headers['x-object-version-id'] as string
    assert.match(v1, /^\d{10}\.\d{5}$/)
    assert.ok(v2 > v1)
    const cur = await f.call('GET', `${base}/docs/a`)
    assert.equal(cur.body, 'two!')
    assert.equal(cur.headers['x-object-version-id'], v2)
    assert.equal(cur.headers['content-type'], 'text/two')
    assert.equal(cur.headers.etag, md5('two!'))
    assert.equal(cur.headers['content-location'], `${base}/docs/a?version-id=${v2}`)
    const old = await f.call('GET', `${base}/docs/a?version-id=${v1}`)
    assert.equal(old.body, 'one')
    assert.equal(old.headers['x-object-meta-n'], '1')
    assert.equal(old.headers['x-object-version-id'], v1)
    const ranged = await f.call('GET', `${base}/docs/a`, { headers: { range: 'bytes=1-2' } })
    assert.equal(ranged.statusCode, 206)
    assert.equal(ranged.body, 'wo')
    assert.equal((await f.call('GET', `${base}/docs/a`, { headers: { 'if-none-match': md5('two!') } })).statusCode, 304)
    // The plain listing shows the current version's size and ETag.
    const rows = JSON.parse((await f.call('GET', `${base}/docs?format=json`)).body) as Row[]
    assert.equal(rows.length, 1)
    assert.equal(rows[0]!.bytes, 4)
    assert.equal(rows[0]!.hash, md5('two!'))
    assert.equal(rows[0]!.content_type, 'text/two')
    assert.equal(rows[0]!.version_symlink, true)
    assert.equal((await f.call('GET', `${base}/docs`)).body, 'a\n')
    assert.deepEqual(await versions('docs'), [
      { bytes: 4, hash: md5('two!'), name: 'a', content_type: 'text/two', is_latest: true, version_id: v2 },
      { bytes: 3, hash: md5('one'), name: 'a', content_type: 'text/one', is_latest: false, version_id: v1 },
    ])
  })

  it('deletes with a marker, and deletes versions by id', async () => {
    await versioned('del')
    const v1 = (await put('del/x', 'x1')).headers['x-object-version-id'] as string
    const d = await f.call('DELETE', `${base}/del/x`)
    assert.equal(d.statusCode, 204)
    const marker = d.headers['x-object-version-id'] as string
    assert.ok(marker > v1)
    assert.equal((await f.call('GET', `${base}/del/x`)).statusCode, 404)
    const m = await f.call('HEAD', `${base}/del/x?version-id=${marker}`)
    assert.equal(m.statusCode, 404)
    assert.equal(m.headers['x-object-version-id'], marker)
    assert.deepEqual((await versions('del')).map((r) => [r.version_id, r.is_latest, r.content_type]),
      [[marker, true, MARKER], [v1, false, 'application/octet-stream']])
    // A delete of nothing still leaves a marker, and answers 404.
    const none = await f.call('DELETE', `${base}/del/never`)
    assert.equal(none.statusCode, 404)
    assert.ok(none.headers['x-object-version-id'])
    // Deleting the marker brings nothing back by itself (no link), the old version stays listed.
    const dm = await f.call('DELETE', `${base}/del/x?version-id=${marker}`)
    assert.equal(dm.statusCode, 204)
    assert.equal(dm.headers['x-object-version-id'], marker)
    assert.equal(dm.headers['x-object-current-version-id'], 'null')
    // Making v1 current again (PUT ?version-id with no body).
    const restored = await f.call('PUT', `${base}/del/x?version-id=${v1}`, { headers: { 'content-length': '0' } })
    assert.equal(restored.statusCode, 201)
    assert.equal((await f.call('GET', `${base}/del/x`)).body, 'x1')
    // Deleting the current version by id removes its link too.
    const dc = await f.call('DELETE', `${base}/del/x?version-id=${v1}`)
    assert.equal(dc.statusCode, 204)
    assert.equal(dc.headers['x-object-current-version-id'], 'null')
    assert.equal((await f.call('GET', `${base}/del/x`)).statusCode, 404)
    assert.equal((await f.call('DELETE', `${base}/del/x?version-id=${v1}`)).statusCode, 404)
    assert.deepEqual((await versions('del')).filter((r) => r.name === 'x'), [])
  })

  it('treats data written while versioning was off as the null version', async () => {
    await f.call('PUT', `${base}/later`)
    await put('later/n', 'plain')
    assert.equal((await f.call('GET', `${base}/later/n`)).headers['x-object-version-id'], undefined)
    await f.call('POST', `${base}/later`, { headers: { 'x-versions-enabled': 'true' } })
    const before = await f.call('GET', `${base}/later/n`)
    assert.equal(before.headers['x-object-version-id'], 'null')
    assert.equal((await f.call('GET', `${base}/later/n?version-id=null`)).body, 'plain')
    assert.deepEqual((await versions('later')).map((r) => [r.version_id, r.is_latest]), [['null', true]])
    const v2 = (await put('later/n', 'second')).headers['x-object-version-id'] as string
    const list = await versions('later')
    assert.equal(list.length, 2)
    assert.deepEqual(list[0], { bytes: 6, hash: md5('second'), name: 'n', content_type: 'application/octet-stream', is_latest: true, version_id: v2 })
    assert.equal(list[1]!.is_latest, false)
    assert.equal((await f.call('GET', `${base}/later/n?version-id=${list[1]!.version_id}`)).body, 'plain')
    assert.equal((await f.call('GET', `${base}/later/n?version-id=null`)).statusCode, 404) // current has a real id
    // Suspended: writes are unversioned again, old versions stay reachable.
    await f.call('POST', `${base}/later`, { headers: { 'x-versions-enabled': 'false' } })
    const p = await put('later/n', 'third')
    assert.equal(p.headers['x-object-version-id'], undefined)
    assert.deepEqual((await versions('later')).map((r) => [r.version_id, r.is_latest]),
      [['null', true], [v2, false], [list[1]!.version_id, false]])
    assert.equal((await f.call('GET', `${base}/later/n?version-id=${v2}`)).body, 'second')
  })

  it('sends POST metadata to the current version', async () => {
    await versioned('meta')
    const v = (await put('meta/o', 'data')).headers['x-object-version-id'] as string
    assert.equal((await f.call('POST', `${base}/meta/o`, { headers: { 'x-object-meta-color': 'blue' } })).statusCode, 202)
    assert.equal((await f.call('HEAD', `${base}/meta/o`)).headers['x-object-meta-color'], 'blue')
    assert.equal((await f.call('HEAD', `${base}/meta/o?version-id=${v}`)).headers['x-object-meta-color'], 'blue')
  })

  it('validates version ids and where they apply', async () => {
    await versioned('val')
    await put('val/o', 'x')
    assert.equal((await f.call('GET', `${base}/val/o?version-id=bogus`)).statusCode, 400)
    assert.equal((await f.call('POST', `${base}/val/o?version-id=null`)).statusCode, 400)
    assert.equal((await f.call('GET', `${base}/val/o?version-id=1000000000.00000`)).statusCode, 404)
    assert.equal((await f.call('PUT', `${base}/val/o?version-id=1000000000.00000`, { headers: { 'content-length': '0' } })).statusCode, 404)
    assert.equal((await f.call('PUT', `${base}/val/o?version-id=null`, { headers: { 'content-length': '0' } })).statusCode, 400)
    assert.equal((await f.call('PUT', `${base}/val/o?version-id=1000000000.00000`, { body: 'x' })).statusCode, 400)
    await f.call('PUT', `${base}/plainc`)
    await put('plainc/o', 'p')
    assert.equal((await f.call('GET', `${base}/plainc/o?version-id=1000000000.00000`)).statusCode, 400)
    const nul = await f.call('GET', `${base}/plainc/o?version-id=null`)
    assert.equal(nul.body, 'p')
    assert.equal(nul.headers['x-object-version-id'], 'null')
    assert.deepEqual((await versions('plainc')).map((r) => [r.name, r.version_id, r.is_latest]), [['o', 'null', true]])
    assert.equal((await f.call('GET', `${base}/plainc?versions&format=xml`)).statusCode, 406)
  })

  it('pages versions listings with marker and version_marker', async () => {
    await versioned('pages')
    const ids: string[] = []
    for (const b of ['1', '2', '3']) ids.push((await put('pages/k', b)).headers['x-object-version-id'] as string)
    await put('pages/l', 'l')
    const first = await versions('pages', '&limit=2')
    assert.deepEqual(first.map((r) => r.version_id), [ids[2], ids[1]])
    const next = await versions('pages', `&limit=2&marker=k&version_marker=${ids[1]}`)
    assert.deepEqual(next.map((r) => [r.name, r.version_id]), [['k', ids[0]], ['l', next[1]!.version_id]])
    assert.deepEqual((await versions('pages', '&marker=k')).map((r) => r.name), ['l'])
    assert.deepEqual((await versions('pages', '&prefix=l')).map((r) => r.name), ['l'])
    assert.deepEqual((await versions('pages', '&reverse=on')).map((r) => r.name), ['l', 'k', 'k', 'k'])
    assert.equal((await f.call('GET', `${base}/pages?versions&version_marker=${ids[0]}`)).statusCode, 400)
    assert.equal((await f.call('GET', `${base}/pages?versions&delimiter=1`)).statusCode, 400)
  })

  it('lets container ACLs reach the current version only', async () => {
    const reader = await f.user('ov-reader')
    await f.call('PUT', `${base}/acl`, { headers: { 'x-versions-enabled': 'true', 'x-container-read': `${reader.projectId}:*` } })
    const v = (await put('acl/o', 'secret')).headers['x-object-version-id'] as string
    const r = await f.call('GET', `${base}/acl/o`, { token: reader.token })
    assert.equal(r.statusCode, 200)
    assert.equal(r.body, 'secret')
    assert.equal((await f.call('GET', `${base}/acl/o?version-id=${v}`, { token: reader.token })).statusCode, 403)
    assert.equal((await f.call('PUT', `${base}/acl/o`, { token: reader.token, body: 'no' })).statusCode, 403)
    assert.equal((await f.call('DELETE', `${base}/acl/o`, { token: reader.token })).statusCode, 403)
    assert.equal((await versions('acl')).length, 1)
  })

  it('versions copies and SLO manifests like other writes', async () => {
    await versioned('cp')
    const v1 = (await put('cp/src', 'source one')).headers['x-object-version-id'] as string
    await put('cp/src', 'source two')
    const c = await f.call('PUT', `${base}/cp/dst`, { headers: { 'x-copy-from': 'cp/src', 'content-length': '0' } })
    assert.equal(c.statusCode, 201, c.body)
    assert.ok(c.headers['x-object-version-id'])
    assert.equal((await f.call('GET', `${base}/cp/dst`)).body, 'source two')
    assert.equal((await f.call('GET', `${base}/cp/src?version-id=${v1}`)).body, 'source one')

    await f.call('PUT', `${base}/cp-segs`)
    await put('cp-segs/s1', 'aaaa')
    await put('cp-segs/s2', 'bbb')
    const manifest = JSON.stringify([{ path: 'cp-segs/s1' }, { path: 'cp-segs/s2' }])
    const m1 = await f.call('PUT', `${base}/cp/slo?multipart-manifest=put`, { body: manifest })
    assert.equal(m1.statusCode, 201, m1.body)
    assert.equal((await f.call('GET', `${base}/cp/slo`)).body, 'aaaabbb')
    await put('cp/slo', 'plain now')
    const list = await versions('cp', '&prefix=slo')
    assert.equal(list.length, 2)
    assert.equal(list[1]!.bytes, 7)
    assert.equal((await f.call('GET', `${base}/cp/slo?version-id=${list[1]!.version_id}`)).body, 'aaaabbb')
  })
})
