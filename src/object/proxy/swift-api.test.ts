// The Swift API end to end in one process: identity for tokens, the proxy, and real account,
// container and object servers on temp devices with three replicas.
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { existsSync, readdirSync, renameSync } from 'node:fs'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { setTimeout as sleep } from 'node:timers/promises'
import { after, before, describe, it } from 'node:test'
import { hashPath } from '../ring/hash.ts'
import { type SwiftFixture, swiftFixture } from './test-kit.ts'

let f: SwiftFixture
let A: string
before(async () => { f = await swiftFixture(); A = `/v1/${f.account}` })
after(async () => { await f?.close() })

const md5 = (b: string | Buffer) => createHash('md5').update(b).digest('hex')

describe('Swift API: accounts', () => {
  it('a new account answers as empty (autocreate), takes metadata on POST, refuses PUT/DELETE', async () => {
    const head = await f.call('HEAD', A)
    assert.equal(head.statusCode, 204)
    assert.equal(head.headers['x-account-container-count'], '0')
    assert.equal((await f.call('GET', `${A}?format=json`)).body, '[]')
    assert.equal((await f.call('GET', A)).statusCode, 204)
    const post = await f.call('POST', A, { headers: { 'x-account-meta-team': 'blue' } })
    assert.equal(post.statusCode, 204)
    assert.equal((await f.call('HEAD', A)).headers['x-account-meta-team'], 'blue')
    await f.call('POST', A, { headers: { 'x-remove-account-meta-team': 'x' } })
    assert.equal((await f.call('HEAD', A)).headers['x-account-meta-team'], undefined)
    assert.equal((await f.call('PUT', A)).statusCode, 405)
    assert.equal((await f.call('DELETE', A)).statusCode, 403) // keystoneauth: no one deletes their own account
    assert.equal((await f.call('POST', A, { headers: { ['x-account-meta-' + 'k'.repeat(129)]: 'v' } })).statusCode, 400)
  })
})

describe('Swift API: containers', () => {
  it('PUT creates (201) then accepts (202); names over 256 bytes are 400', async () => {
    assert.equal((await f.call('PUT', `${A}/box`, { headers: { 'x-container-meta-kind': 'tools' } })).statusCode, 201)
    assert.equal((await f.call('PUT', `${A}/box`)).statusCode, 202)
    assert.equal((await f.call('PUT', `${A}/${'c'.repeat(257)}`)).statusCode, 400)
    const head = await f.call('HEAD', `${A}/box`)
    assert.equal(head.statusCode, 204)
    assert.equal(head.headers['x-container-meta-kind'], 'tools')
    assert.equal(head.headers['x-container-object-count'], '0')
    assert.equal(head.headers['x-storage-policy'], 'Policy-0')
    assert.equal((await f.call('HEAD', `${A}/nope`)).statusCode, 404)
    assert.equal((await f.call('PUT', `${A}/gold`, { headers: { 'x-storage-policy': 'gold' } })).statusCode, 400)
  })

  it('listings: formats, prefix, delimiter, markers, limit, reverse', async () => {
    await f.call('PUT', `${A}/list`)
    for (const n of ['a', 'b/1', 'b/2', 'c', 'd']) assert.equal((await f.call('PUT', `${A}/list/${n}`, { body: n })).statusCode, 201)
    const json = JSON.parse((await f.call('GET', `${A}/list?format=json`)).body)
    assert.deepEqual(json.map((o: any) => o.name), ['a', 'b/1', 'b/2', 'c', 'd'])
    assert.equal(json[0].hash, md5('a'))
    assert.equal(json[0].bytes, 1)
    assert.equal((await f.call('GET', `${A}/list`)).body, 'a\nb/1\nb/2\nc\nd\n')
    const xml = (await f.call('GET', `${A}/list?format=xml`)).body
    assert.match(xml, /^<\?xml version="1.0" encoding="UTF-8"\?>\n<container name="list"><object><name>a<\/name>/)
    assert.equal((await f.call('GET', `${A}/list`, { headers: { accept: 'application/json' } })).headers['content-type'], 'application/json; charset=utf-8')
    assert.equal((await f.call('GET', `${A}/list?prefix=b/`)).body, 'b/1\nb/2\n')
    assert.deepEqual(JSON.parse((await f.call('GET', `${A}/list?delimiter=/&format=json`)).body).map((o: any) => o.name ?? o.subdir), ['a', 'b/', 'c', 'd'])
    assert.equal((await f.call('GET', `${A}/list?marker=b/2&end_marker=d`)).body, 'c\n')
    assert.equal((await f.call('GET', `${A}/list?limit=2`)).body, 'a\nb/1\n')
    assert.equal((await f.call('GET', `${A}/list?reverse=true&limit=2`)).body, 'd\nc\n')
    assert.equal((await f.call('GET', `${A}/list?limit=10001`)).statusCode, 412)
    const acct = JSON.parse((await f.call('GET', `${A}?format=json&prefix=li`)).body)
    assert.deepEqual(acct.map((c: any) => c.name), ['list'])
    assert.equal((await f.call('GET', `${A}?limit=10001`)).statusCode, 412)
  })

  it('POST sets and removes metadata; DELETE is 409 while objects remain, then 204, then 404', async () => {
    await f.call('PUT', `${A}/tmp`)
    assert.equal((await f.call('POST', `${A}/tmp`, { headers: { 'x-container-meta-a': '1', 'x-container-meta-b': '2' } })).statusCode, 204)
    await f.call('POST', `${A}/tmp`, { headers: { 'x-remove-container-meta-a': 'x' } })
    const head = await f.call('HEAD', `${A}/tmp`)
    assert.equal(head.headers['x-container-meta-a'], undefined)
    assert.equal(head.headers['x-container-meta-b'], '2')
    assert.equal((await f.call('POST', `${A}/missing`, { headers: { 'x-container-meta-a': '1' } })).statusCode, 404)
    await f.call('PUT', `${A}/tmp/o`, { body: 'x' })
    assert.equal((await f.call('DELETE', `${A}/tmp`)).statusCode, 409)
    assert.equal((await f.call('DELETE', `${A}/tmp/o`)).statusCode, 204)
    assert.equal((await f.call('DELETE', `${A}/tmp`)).statusCode, 204)
    assert.equal((await f.call('DELETE', `${A}/tmp`)).statusCode, 404)
  })
})

describe('Swift API: objects', () => {
  before(async () => { await f.call('PUT', `${A}/obj`) })

  it('PUT stores three replicas; GET/HEAD return body, ETag, metadata; content type guessed from the name', async () => {
    const put = await f.call('PUT', `${A}/obj/notes.txt`, { body: 'hello world', headers: { 'x-object-meta-color': 'blue', 'content-disposition': 'inline' } })
    assert.equal(put.statusCode, 201)
    assert.equal(put.headers.etag, md5('hello world'))
    const get = await f.call('GET', `${A}/obj/notes.txt`)
    assert.equal(get.statusCode, 200)
    assert.equal(get.body, 'hello world')
    assert.equal(get.headers['content-type'], 'text/plain')
    assert.equal(get.headers['x-object-meta-color'], 'blue')
    assert.equal(get.headers['content-disposition'], 'inline')
    assert.equal(get.headers.etag, md5('hello world'))
    assert.equal(get.headers['accept-ranges'], 'bytes')
    const head = await f.call('HEAD', `${A}/obj/notes.txt`)
    assert.equal(head.headers['content-length'], '11')
    assert.equal(head.body, '')
    // One .data file on each of the three devices.
    const hash = hashPath(f.store.cluster.hashConfig, f.account, 'obj', 'notes.txt')
    const datas = f.store.cluster.devices.filter((d) => findData(join(f.store.cluster.devicesRoot, d, 'objects'), hash))
    assert.equal(datas.length, 3)
    const listed = JSON.parse((await f.call('GET', `${A}/obj?format=json`)).body)
    assert.equal(listed.find((o: any) => o.name === 'notes.txt').content_type, 'text/plain')
  })

  it('chunked uploads stream; a wrong ETag is 422; no length is 411; a missing container is 404', async () => {
    const big = Buffer.alloc(3 * 1024 * 1024 + 5, 7)
    const put = await f.store.api.inject({ method: 'PUT', url: `${A}/obj/big.bin`, payload: Readable.from([big.subarray(0, 1e6), big.subarray(1e6)]),
      headers: { 'x-auth-token': f.h.adminToken, 'transfer-encoding': 'chunked' } })
    assert.equal(put.statusCode, 201)
    const get = await f.call('GET', `${A}/obj/big.bin`)
    assert.equal(get.rawPayload.length, big.length)
    assert.equal(get.headers.etag, md5(big))
    assert.equal(get.headers['content-type'], 'application/octet-stream')
    assert.equal((await f.call('PUT', `${A}/obj/bad`, { body: 'abc', headers: { etag: md5('abd') } })).statusCode, 422)
    assert.equal((await f.call('HEAD', `${A}/obj/bad`)).statusCode, 404)
    assert.equal((await f.call('PUT', `${A}/obj/good`, { body: 'abc', headers: { etag: md5('abc') } })).statusCode, 201)
    const noLen = await f.store.api.inject({ method: 'PUT', url: `${A}/obj/nolen`, headers: { 'x-auth-token': f.h.adminToken } })
    assert.equal(noLen.statusCode, 411)
    assert.equal((await f.call('PUT', `${A}/nocontainer/o`, { body: 'x' })).statusCode, 404)
    assert.equal((await f.call('PUT', `${A}/obj/${'o'.repeat(1025)}`, { body: 'x' })).statusCode, 400)
    assert.equal((await f.call('PUT', `${A}/obj/m`, { body: 'x', headers: { 'x-object-meta-k': 'v'.repeat(257) } })).statusCode, 400)
  })

  it('ranges (single, multiple, unsatisfiable) and conditionals pass through', async () => {
    await f.call('PUT', `${A}/obj/digits`, { body: '0123456789' })
    const r = await f.call('GET', `${A}/obj/digits`, { headers: { range: 'bytes=2-4' } })
    assert.equal(r.statusCode, 206)
    assert.equal(r.body, '234')
    assert.equal(r.headers['content-range'], 'bytes 2-4/10')
    const multi = await f.call('GET', `${A}/obj/digits`, { headers: { range: 'bytes=0-0,-2' } })
    assert.equal(multi.statusCode, 206)
    assert.match(String(multi.headers['content-type']), /^multipart\/byteranges;boundary=/)
    assert.match(multi.body, /Content-Range: bytes 0-0\/10\r\n\r\n0\r\n/)
    assert.match(multi.body, /Content-Range: bytes 8-9\/10\r\n\r\n89\r\n/)
    assert.equal((await f.call('GET', `${A}/obj/digits`, { headers: { range: 'bytes=20-30' } })).statusCode, 416)
    const etag = md5('0123456789')
    assert.equal((await f.call('GET', `${A}/obj/digits`, { headers: { 'if-none-match': etag } })).statusCode, 304)
    assert.equal((await f.call('GET', `${A}/obj/digits`, { headers: { 'if-match': 'nope' } })).statusCode, 412)
    assert.equal((await f.call('GET', `${A}/obj/digits`, { headers: { 'if-match': etag } })).statusCode, 200)
    assert.equal((await f.call('PUT', `${A}/obj/digits`, { body: 'x', headers: { 'if-none-match': '*' } })).statusCode, 412)
    assert.equal((await f.call('PUT', `${A}/obj/digits`, { body: 'x', headers: { 'if-none-match': etag } })).statusCode, 400)
  })

  it('POST replaces metadata; X-Delete-After is stored as X-Delete-At; DELETE then 404', async () => {
    await f.call('PUT', `${A}/obj/meta`, { body: 'm', headers: { 'x-object-meta-a': '1' } })
    assert.equal((await f.call('POST', `${A}/obj/meta`, { headers: { 'x-object-meta-b': '2', 'x-delete-after': '3600', 'content-type': 'text/x-m' } })).statusCode, 202)
    const head = await f.call('HEAD', `${A}/obj/meta`)
    assert.equal(head.headers['x-object-meta-a'], undefined)
    assert.equal(head.headers['x-object-meta-b'], '2')
    assert.equal(head.headers['content-type'], 'text/x-m')
    const at = Number(head.headers['x-delete-at'])
    assert.ok(Math.abs(at - (Date.now() / 1000 + 3600)) < 10, `x-delete-at ${at}`)
    assert.equal((await f.call('POST', `${A}/obj/absent`, { headers: { 'x-object-meta-b': '2' } })).statusCode, 404)
    assert.equal((await f.call('POST', `${A}/obj/meta`, { headers: { 'x-delete-at': '1' } })).statusCode, 400)
    await f.call('PUT', `${A}/obj/exp`, { body: 'e', headers: { 'x-delete-after': '60' } })
    assert.ok(Number((await f.call('HEAD', `${A}/obj/exp`)).headers['x-delete-at']) > Date.now() / 1000)
    assert.equal((await f.call('DELETE', `${A}/obj/meta`)).statusCode, 204)
    assert.equal((await f.call('GET', `${A}/obj/meta`)).statusCode, 404)
    assert.equal((await f.call('DELETE', `${A}/obj/meta`)).statusCode, 404)
  })

  it('names with non-ASCII, reserved characters, slashes and a trailing slash', async () => {
    const c = encodeURIComponent('conteneur é')
    assert.equal((await f.call('PUT', `${A}/${c}`)).statusCode, 201)
    const names = ['ünïcødé 名前', 'a?b#c%d', 'dir/sub//x', 'dir/']
    for (const n of names) {
      const url = `${A}/${c}/${n.split('/').map(encodeURIComponent).join('/')}`
      assert.equal((await f.call('PUT', url, { body: n })).statusCode, 201, n)
      assert.equal((await f.call('GET', url)).body, n)
    }
    const listed = JSON.parse((await f.call('GET', `${A}/${c}?format=json`)).body).map((o: any) => o.name)
    assert.deepEqual(listed, [...names].sort())
    const acct = JSON.parse((await f.call('GET', `${A}?format=json`)).body).map((x: any) => x.name)
    assert.ok(acct.includes('conteneur é'))
  })

  it('clients cannot set sysmeta or backend headers', async () => {
    await f.call('PUT', `${A}/obj/sys`, { body: 's', headers: { 'x-object-sysmeta-owner': 'me', 'x-backend-replication': 'true' } })
    const head = await f.call('HEAD', `${A}/obj/sys`)
    assert.equal(head.statusCode, 200)
    assert.equal(head.headers['x-object-sysmeta-owner'], undefined)
    assert.equal(head.headers['x-backend-timestamp'], undefined)
  })

  it('server-side copy: COPY and PUT with X-Copy-From keep metadata; X-Fresh-Metadata drops it', async () => {
    await f.call('PUT', `${A}/obj/src`, { body: 'copy me', headers: { 'x-object-meta-tag': 'orig', 'content-type': 'text/x-src' } })
    await f.call('PUT', `${A}/other`)
    const c1 = await f.call('COPY', `${A}/obj/src`, { headers: { destination: 'other/dst1', 'x-object-meta-extra': 'e' } })
    assert.equal(c1.statusCode, 201)
    assert.equal(c1.headers['x-copied-from'], 'obj/src')
    assert.equal(c1.headers['x-copied-from-account'], f.account)
    const d1 = await f.call('GET', `${A}/other/dst1`)
    assert.equal(d1.body, 'copy me')
    assert.equal(d1.headers['x-object-meta-tag'], 'orig')
    assert.equal(d1.headers['x-object-meta-extra'], 'e')
    assert.equal(d1.headers['content-type'], 'text/x-src')
    const c2 = await f.call('PUT', `${A}/obj/dst2`, { headers: { 'x-copy-from': '/obj/src', 'x-fresh-metadata': 'true', 'content-length': '0' } })
    assert.equal(c2.statusCode, 201)
    const d2 = await f.call('HEAD', `${A}/obj/dst2`)
    assert.equal(d2.headers['x-object-meta-tag'], undefined)
    assert.equal(d2.headers.etag, md5('copy me'))
    const ranged = await f.call('PUT', `${A}/obj/dst3`, { headers: { 'x-copy-from': 'obj/src', range: 'bytes=0-3', 'content-length': '0' } })
    assert.equal(ranged.statusCode, 201)
    assert.equal((await f.call('GET', `${A}/obj/dst3`)).body, 'copy')
    assert.equal((await f.call('COPY', `${A}/obj/nothing`, { headers: { destination: 'other/x' } })).statusCode, 404)
    assert.equal((await f.call('COPY', `${A}/obj/src`, { headers: { destination: 'nocontainer' } })).statusCode, 412)
    assert.equal((await f.call('COPY', `${A}/obj/src`)).statusCode, 412)
    assert.equal((await f.call('PUT', `${A}/obj/dst4`, { body: 'x', headers: { 'x-copy-from': 'obj/src' } })).statusCode, 400)
  })
})

describe('Swift API: authorization', () => {
  let bob: Awaited<ReturnType<SwiftFixture['user']>>
  before(async () => {
    bob = await f.user('bob')
    await f.call('PUT', `${A}/shared`)
    await f.call('PUT', `${A}/shared/doc`, { body: 'secret' })
  })

  it('401 without a token or with a bad one; 403 for another project; a member owns its own account', async () => {
    assert.equal((await f.call('GET', `${A}/shared/doc`, { token: null })).statusCode, 401)
    assert.equal((await f.call('GET', `${A}/shared/doc`, { token: 'garbage' })).statusCode, 401)
    assert.equal((await f.call('GET', `${A}/shared/doc`, { token: bob.token })).statusCode, 403)
    assert.equal((await f.call('GET', A, { token: bob.token })).statusCode, 403)
    assert.equal((await f.call('PUT', `${A}/bobs`, { token: bob.token })).statusCode, 403)
    assert.equal((await f.call('PUT', `/v1/${bob.account}/mine`, { token: bob.token })).statusCode, 201)
    assert.equal((await f.call('PUT', `/v1/${bob.account}/mine/o`, { token: bob.token, body: 'b' })).statusCode, 201)
    // The admin holds no role on bob's project: not its owner either.
    assert.equal((await f.call('GET', `/v1/${bob.account}/mine`)).statusCode, 403)
  })

  it('container ACLs grant another project read and write; only owners see and set them', async () => {
    assert.equal((await f.call('POST', `${A}/shared`, { headers: { 'x-container-read': `${bob.projectId}:*` } })).statusCode, 204)
    assert.equal((await f.call('GET', `${A}/shared/doc`, { token: bob.token })).body, 'secret')
    const listing = await f.call('GET', `${A}/shared`, { token: bob.token })
    assert.equal(listing.body, 'doc\n')
    assert.equal(listing.headers['x-container-read'], undefined)
    assert.equal((await f.call('HEAD', `${A}/shared`)).headers['x-container-read'], `${bob.projectId}:*`)
    assert.equal((await f.call('PUT', `${A}/shared/bobs`, { token: bob.token, body: 'x' })).statusCode, 403)
    assert.equal((await f.call('POST', `${A}/shared`, { token: bob.token, headers: { 'x-container-write': `${bob.projectId}:*` } })).statusCode, 403)
    await f.call('POST', `${A}/shared`, { headers: { 'x-container-write': `p-bob:bob` } })
    assert.equal((await f.call('PUT', `${A}/shared/bobs`, { token: bob.token, body: 'x' })).statusCode, 201)
    assert.equal((await f.call('DELETE', `${A}/shared/bobs`, { token: bob.token })).statusCode, 204)
    assert.equal((await f.call('POST', `${A}/shared`, { headers: { 'x-container-write': '.r:*' } })).statusCode, 400)
  })

  it('public read with .r:* (objects), listings only with .rlistings', async () => {
    await f.call('PUT', `${A}/pub`, { headers: { 'x-container-read': '.r:*' } })
    await f.call('PUT', `${A}/pub/page`, { body: 'public' })
    assert.equal((await f.call('GET', `${A}/pub/page`, { token: null })).body, 'public')
    assert.equal((await f.call('GET', `${A}/pub`, { token: null })).statusCode, 401)
    assert.equal((await f.call('PUT', `${A}/pub/x`, { token: null, body: 'x' })).statusCode, 401)
    await f.call('POST', `${A}/pub`, { headers: { 'x-container-read': '.r:*,.rlistings' } })
    assert.equal((await f.call('GET', `${A}/pub`, { token: null })).body, 'page\n')
  })

  it('GET /auth/v1.0 trades project:user and password for a token and storage URL', async () => {
    const ok = await f.store.api.inject({ method: 'GET', url: '/auth/v1.0', headers: { 'x-auth-user': 'p-bob:bob', 'x-auth-key': 'pw-bob', host: 'swift.example:8080' } })
    assert.equal(ok.statusCode, 200)
    assert.equal(ok.headers['x-storage-url'], `http://swift.example:8080/v1/${bob.account}`)
    const token = ok.headers['x-auth-token'] as string
    assert.equal(ok.headers['x-storage-token'], token)
    assert.equal((await f.call('GET', `/v1/${bob.account}/mine`, { token })).body, 'o\n')
    const bad = await f.store.api.inject({ method: 'GET', url: '/auth/v1.0/', headers: { 'x-auth-user': 'p-bob:bob', 'x-auth-key': 'wrong' } })
    assert.equal(bad.statusCode, 401)
    assert.equal((await f.store.api.inject({ method: 'GET', url: '/auth/v1.0' })).statusCode, 401)
  })
})

describe('Swift API: degraded cluster', () => {
  it('with one device gone (507) writes still reach a quorum and reads find the other replicas', async () => {
    const root = f.store.cluster.devicesRoot
    await f.call('PUT', `${A}/deg`)
    renameSync(join(root, 'd3'), join(root, 'd3.gone'))
    try {
      await sleep(1100) // the servers re-check devices once a second
      assert.equal((await f.call('PUT', `${A}/deg/o`, { body: 'still here' })).statusCode, 201)
      assert.equal((await f.call('GET', `${A}/deg/o`)).body, 'still here')
      assert.equal((await f.call('PUT', `${A}/deg2`)).statusCode, 201)
      assert.equal((await f.call('GET', `${A}/deg?format=json`)).statusCode, 200)
      assert.equal((await f.call('DELETE', `${A}/deg/o`)).statusCode, 204)
      assert.equal((await f.call('GET', `${A}/deg/o`)).statusCode, 404)
    } finally {
      renameSync(join(root, 'd3.gone'), join(root, 'd3'))
      f.store.client.resetErrors()
    }
  })

  it('zero-byte objects and X-Newest reads', async () => {
    const put = await f.store.api.inject({ method: 'PUT', url: `${A}/deg/empty`, headers: { 'x-auth-token': f.h.adminToken, 'content-length': '0' } })
    assert.equal(put.statusCode, 201)
    assert.equal(put.headers.etag, md5(''))
    const get = await f.call('GET', `${A}/deg/empty`, { headers: { 'x-newest': 'true' } })
    assert.equal(get.statusCode, 200)
    assert.equal(get.headers['content-length'], '0')
  })
})

describe('Swift API: /info', () => {
  it('lists the core limits, policies and the sections of what is enabled', async () => {
    const r = await f.store.api.inject({ method: 'GET', url: '/info' })
    assert.equal(r.statusCode, 200)
    const info = JSON.parse(r.body)
    assert.equal(info.swift.max_file_size, 5368709122)
    assert.equal(info.swift.max_meta_count, 90)
    assert.equal(info.swift.container_listing_limit, 10000)
    assert.deepEqual(info.swift.policies, [{ name: 'Policy-0', default: true }])
    for (const k of ['crossdomain', 'tempurl', 'formpost', 'bulk_delete', 'bulk_upload', 'staticweb', 'container_quotas', 'account_quotas']) {
      assert.ok(k in info, `/info has ${k}`)
    }
  })

  it('serves /healthcheck and /crossdomain.xml without a token', async () => {
    const h = await f.store.api.inject({ method: 'GET', url: '/healthcheck' })
    assert.equal(h.statusCode, 200)
    assert.equal(h.body, 'OK')
    const x = await f.store.api.inject({ method: 'GET', url: '/crossdomain.xml' })
    assert.equal(x.statusCode, 200)
    assert.match(x.body, /<cross-domain-policy>\n<allow-access-from domain="\*" secure="false" \/>\n<\/cross-domain-policy>/)
  })
})

/** Whether a .data file of the object with `hash` is somewhere under `dir`. */
function findData(dir: string, hash: string): boolean {
  if (!existsSync(dir)) return false
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (!e.isDirectory()) continue
    const p = join(dir, e.name)
    if (e.name === hash) return readdirSync(p).some((n) => n.endsWith('.data'))
    if (findData(p, hash)) return true
  }
  return false
}

describe('Swift API: header names and owners of public containers', () => {
  it("reads '_' in header names as '-', and an owner sees the ACLs of a public container", async () => {
    assert.equal((await f.call('PUT', `${A}/pub-owner`, { headers: { 'x-container-meta-test_meta': 'M1' } })).statusCode, 201)
    assert.equal((await f.call('POST', `${A}/pub-owner`, { headers: { 'x-container-read': '.r:*,.rlistings' } })).statusCode, 204)
    const head = await f.call('HEAD', `${A}/pub-owner`)
    assert.equal(head.headers['x-container-meta-test-meta'], 'M1')
    assert.equal(head.headers['x-container-read'], '.r:*,.rlistings')
    const anon = await f.call('HEAD', `${A}/pub-owner`, { token: null })
    assert.equal(anon.statusCode, 204)
    assert.equal(anon.headers['x-container-read'], undefined)
  })
})
