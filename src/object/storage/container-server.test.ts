import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { Readable } from 'node:stream'
import type { BackendRequest, BackendResponse } from './backend.ts'
import { createContainerServer, type ContainerServer } from './container-server.ts'
import { dbFilePath } from './db-broker.ts'

const hashPath = (a: string, c?: string) => createHash('md5').update(`pfx/${a}${c ? '/' + c : ''}sfx`).digest('hex')
const T = (s: number) => (1700000000 + s).toFixed(5)
const quiet = { error: () => {}, warn: () => {}, info: () => {}, debug: () => {} }

let root: string
let server: ContainerServer
const updates: Array<{ host: string; req: BackendRequest }> = []
let accountStatus = 201

before(() => {
  root = mkdtempSync(join(tmpdir(), 'cumulo-cserver-'))
  mkdirSync(join(root, 'sda'))
  server = createContainerServer({
    devices: root, hashPath, logger: quiet,
    policies: [{ index: 0, name: 'Policy-0', isDefault: true }, { index: 1, name: 'gold' }],
    accountUpdate: async (host, req) => {
      updates.push({ host, req })
      if (accountStatus === 0) throw new Error('connection refused')
      return { status: accountStatus, headers: {}, body: Readable.from([]) }
    },
  })
})
after(() => { server.close(); rmSync(root, { recursive: true, force: true }) })

function call(method: string, path: string, headers: Record<string, string> = {}, query = '', body?: unknown):
  Promise<BackendResponse> {
  return server({ method, path, headers, query: new URLSearchParams(query),
    body: body === undefined ? undefined : Readable.from([Buffer.from(JSON.stringify(body))]) })
}
const text = (r: BackendResponse) => (Buffer.isBuffer(r.body) ? r.body.toString('utf8') : '')
const acct = { 'x-account-host': '10.0.0.1:6202', 'x-account-device': 'sdb', 'x-account-partition': '3' }
const putObj = (c: string, o: string, ts: string, size: number, extra: Record<string, string> = {}) =>
  call('PUT', `/sda/1/AUTH_a/${c}/${o}`, { 'x-timestamp': ts, 'x-size': String(size), 'x-content-type': 'text/plain',
    'x-etag': 'etag-' + o, ...extra })

describe('container server: container lifecycle', () => {
  it('PUT creates (201) then accepts (202), updating the account each time', async () => {
    updates.length = 0
    let r = await call('PUT', '/sda/1/AUTH_a/c1', { 'x-timestamp': T(1), 'x-container-meta-color': 'red',
      'x-container-read': '.r:*', 'x-trans-id': 'tx1', ...acct })
    assert.equal(r.status, 201)
    assert.equal(r.headers['x-backend-storage-policy-index'], '0')
    assert.equal(updates.length, 1)
    assert.equal(updates[0]!.host, '10.0.0.1:6202')
    assert.equal(updates[0]!.req.method, 'PUT')
    assert.equal(updates[0]!.req.path, '/sdb/3/AUTH_a/c1')
    assert.deepEqual({ ...updates[0]!.req.headers, 'user-agent': undefined }, {
      'x-put-timestamp': T(1), 'x-delete-timestamp': '0', 'x-object-count': '0', 'x-bytes-used': '0',
      'x-trans-id': 'tx1', 'x-backend-storage-policy-index': '0', 'user-agent': undefined,
      referer: 'PUT /sda/1/AUTH_a/c1' })
    r = await call('PUT', '/sda/1/AUTH_a/c1', { 'x-timestamp': T(2), ...acct })
    assert.equal(r.status, 202)
    assert.equal(updates[1]!.req.headers['x-put-timestamp'], T(2))
  })

  it('HEAD shows counts, timestamps, policy and stored headers', async () => {
    await putObj('c1', 'o1', T(3), 10)
    await putObj('c1', 'dir/o2', T(3), 5)
    const r = await call('HEAD', '/sda/1/AUTH_a/c1')
    assert.equal(r.status, 204)
    assert.equal(r.headers['x-container-object-count'], '2')
    assert.equal(r.headers['x-container-bytes-used'], '15')
    assert.equal(r.headers['x-put-timestamp'], T(2))
    assert.equal(r.headers['x-backend-put-timestamp'], T(2))
    assert.match(r.headers['x-timestamp']!, /^\d{10}\.\d{5}$/)
    assert.equal(r.headers['x-backend-storage-policy-index'], '0')
    assert.equal(r.headers['x-container-meta-color'], 'red')
    assert.equal(r.headers['x-container-read'], '.r:*')
    assert.equal(r.headers['content-type'], 'text/plain; charset=utf-8')
    assert.equal(r.headers['last-modified'], new Date((1700000002) * 1000).toUTCString())
  })

  it('rejects a PUT asking for another policy (409) and bad policy indexes (400)', async () => {
    let r = await call('PUT', '/sda/1/AUTH_a/c1', { 'x-timestamp': T(4), 'x-backend-storage-policy-index': '1' })
    assert.equal(r.status, 409)
    assert.equal(r.headers['x-backend-storage-policy-index'], '0')
    r = await call('PUT', '/sda/1/AUTH_a/c1', { 'x-timestamp': T(4), 'x-backend-storage-policy-index': '7' })
    assert.equal(r.status, 400)
  })

  it('POST updates metadata (and X-Remove-*), 404 for a missing container', async () => {
    let r = await call('POST', '/sda/1/AUTH_a/c1', { 'x-timestamp': T(5), 'x-container-meta-size': 'xl',
      'x-remove-container-meta-color': 'x', 'x-container-sysmeta-mine': 's' })
    assert.equal(r.status, 204)
    r = await call('HEAD', '/sda/1/AUTH_a/c1')
    assert.equal(r.headers['x-container-meta-size'], 'xl')
    assert.equal(r.headers['x-container-sysmeta-mine'], 's')
    assert.equal('x-container-meta-color' in r.headers, false)
    assert.equal(r.headers['x-put-timestamp'], T(5)) // POST moves put_timestamp, as Swift
    r = await call('POST', '/sda/1/AUTH_a/nope', { 'x-timestamp': T(5) })
    assert.equal(r.status, 404)
    r = await call('POST', '/sda/1/AUTH_a/c1', { 'x-timestamp': T(6), 'x-container-meta-big': 'x'.repeat(5000) })
    assert.equal(r.status, 400)
  })

  it('DELETE of a non-empty container is 409; after its objects go, 204; then 404', async () => {
    updates.length = 0
    let r = await call('DELETE', '/sda/1/AUTH_a/c1', { 'x-timestamp': T(7), ...acct })
    assert.equal(r.status, 409)
    assert.equal(updates.length, 0)
    assert.equal((await call('DELETE', '/sda/1/AUTH_a/c1/o1', { 'x-timestamp': T(8) })).status, 204)
    assert.equal((await call('DELETE', '/sda/1/AUTH_a/c1/dir/o2', { 'x-timestamp': T(8) })).status, 204)
    r = await call('DELETE', '/sda/1/AUTH_a/c1', { 'x-timestamp': T(9), ...acct })
    assert.equal(r.status, 204)
    assert.equal(updates.length, 1)
    assert.equal(updates[0]!.req.headers['x-delete-timestamp'], T(9))
    assert.equal(updates[0]!.req.headers['x-object-count'], '0')
    r = await call('HEAD', '/sda/1/AUTH_a/c1')
    assert.equal(r.status, 404)
    assert.equal(r.headers['x-backend-delete-timestamp'], T(9))
    assert.equal('x-container-object-count' in r.headers, false)
    assert.equal((await call('GET', '/sda/1/AUTH_a/c1')).status, 404)
    assert.equal((await call('DELETE', '/sda/1/AUTH_a/c1', { 'x-timestamp': T(10) })).status, 404)
    assert.equal((await call('DELETE', '/sda/1/AUTH_a/never', { 'x-timestamp': T(10) })).status, 404)
    assert.equal((await call('HEAD', '/sda/1/AUTH_a/never')).headers['x-backend-timestamp'], '0000000000.00000')
  })

  it('a PUT older than the DELETE is 409; a newer one re-creates (201) and may change the policy', async () => {
    assert.equal((await call('PUT', '/sda/1/AUTH_a/c1', { 'x-timestamp': T(8) })).status, 409)
    const r = await call('PUT', '/sda/1/AUTH_a/c1', { 'x-timestamp': T(11), 'x-backend-storage-policy-index': '1' })
    assert.equal(r.status, 201)
    assert.equal(r.headers['x-backend-storage-policy-index'], '1')
    const h = await call('HEAD', '/sda/1/AUTH_a/c1')
    assert.equal(h.headers['x-backend-status-changed-at'], T(11))
    assert.equal(h.headers['x-container-meta-size'], undefined) // DELETE blanked the metadata
  })
})

describe('container server: object rows', () => {
  before(async () => { await call('PUT', '/sda/1/AUTH_a/rows', { 'x-timestamp': T(1) }) })

  it('requires the object server\'s headers', async () => {
    assert.equal((await call('PUT', '/sda/1/AUTH_a/rows/o', { 'x-timestamp': T(2), 'x-content-type': 'a/b', 'x-etag': 'e' })).status, 400)
    assert.equal((await call('PUT', '/sda/1/AUTH_a/rows/o', { 'x-size': '1', 'x-content-type': 'a/b', 'x-etag': 'e' })).status, 400)
    assert.equal((await putObj('rows', 'o', 'yesterday', 1)).status, 400)
    assert.equal((await putObj('nope', 'o', T(2), 1)).status, 404) // no such container
  })

  it('merges updates last-writer-wins (an older PUT after a newer DELETE loses)', async () => {
    assert.equal((await putObj('rows', 'x', T(5), 3)).status, 201)
    assert.equal((await call('DELETE', '/sda/1/AUTH_a/rows/x', { 'x-timestamp': T(7) })).status, 204)
    assert.equal((await putObj('rows', 'x', T(6), 9)).status, 201)
    const r = await call('HEAD', '/sda/1/AUTH_a/rows')
    assert.equal(r.headers['x-container-object-count'], '0')
  })

  it('commits concurrent updates together and acknowledges each', async () => {
    const rs = await Promise.all(Array.from({ length: 40 }, (_, i) => putObj('rows', `batch/${i}`, T(10), i)))
    assert.ok(rs.every((r) => r.status === 201))
    const h = await call('HEAD', '/sda/1/AUTH_a/rows')
    assert.equal(h.headers['x-container-object-count'], '40')
    assert.equal(h.headers['x-container-bytes-used'], String((39 * 40) / 2))
  })

  it('auto-creates containers of "." accounts, with the object\'s policy', async () => {
    const r = await putObj('1700000000', 'exp', T(3), 0, { 'x-backend-storage-policy-index': '1' })
    assert.equal(r.status, 404) // AUTH_a is not an auto-create account
    const auto = await call('PUT', '/sda/1/.expiring_objects/1700000000/1-AUTH_a/c/o',
      { 'x-timestamp': T(3), 'x-size': '0', 'x-content-type': 'text/plain', 'x-etag': 'e',
        'x-backend-storage-policy-index': '1' })
    assert.equal(auto.status, 201)
    const h = await call('HEAD', '/sda/1/.expiring_objects/1700000000')
    assert.equal(h.headers['x-backend-storage-policy-index'], '1')
    assert.equal(h.headers['x-container-object-count'], '1')
  })
})

describe('container server: listings', () => {
  before(async () => {
    await call('PUT', '/sda/1/AUTH_a/list', { 'x-timestamp': T(1) })
    await call('PUT', '/sda/1/AUTH_a/empty', { 'x-timestamp': T(1) })
    for (const name of ['a', 'b/1', 'b/2', 'c', '\u00e9t\u00e9']) await putObj('list', encodeURIComponent(name), T(2), 4)
    await putObj('list', 'slo', T(2), 99, { 'x-content-type': 'application/octet-stream;swift_bytes=1000' })
  })

  it('renders plain, JSON and XML, chosen by format= or Accept', async () => {
    let r = await call('GET', '/sda/1/AUTH_a/list')
    assert.equal(r.status, 200)
    assert.equal(r.headers['content-type'], 'text/plain; charset=utf-8')
    assert.equal(text(r), 'a\nb/1\nb/2\nc\nslo\n\u00e9t\u00e9\n')
    assert.equal(r.headers['content-length'], String(Buffer.byteLength(text(r))))
    r = await call('GET', '/sda/1/AUTH_a/list', {}, 'format=json&prefix=s')
    assert.equal(r.headers['content-type'], 'application/json; charset=utf-8')
    assert.equal(text(r), '[{"bytes": 1000, "hash": "etag-slo", "name": "slo", "content_type": "application/octet-stream", ' +
      '"last_modified": "2023-11-14T22:13:22.000000"}]')
    r = await call('GET', '/sda/1/AUTH_a/list', { accept: 'application/xml' }, 'delimiter=/&limit=2')
    assert.equal(r.headers['content-type'], 'application/xml; charset=utf-8')
    assert.equal(text(r), '<?xml version="1.0" encoding="UTF-8"?>\n<container name="list"><object><name>a</name>' +
      '<hash>etag-a</hash><bytes>4</bytes><content_type>text/plain</content_type>' +
      '<last_modified>2023-11-14T22:13:22.000000</last_modified></object><subdir name="b/"><name>b/</name></subdir></container>')
    assert.equal(r.headers['x-container-object-count'], '6')
  })

  it('answers an empty plain listing with 204 and an empty JSON one with []', async () => {
    let r = await call('GET', '/sda/1/AUTH_a/empty')
    assert.equal(r.status, 204)
    r = await call('GET', '/sda/1/AUTH_a/empty', {}, 'format=json')
    assert.equal(r.status, 200)
    assert.equal(text(r), '[]')
    r = await call('GET', '/sda/1/AUTH_a/list', {}, 'prefix=q')
    assert.equal(r.status, 204)
  })

  it('applies marker, end_marker, reverse and limit; 412 past 10000; 406 for unacceptable types', async () => {
    let r = await call('GET', '/sda/1/AUTH_a/list', {}, 'marker=a&end_marker=c&reverse=on')
    assert.equal(text(r), '') // reversed: names before a and after c: none
    r = await call('GET', '/sda/1/AUTH_a/list', {}, 'marker=c&end_marker=a&reverse=true&limit=2')
    assert.equal(text(r), 'b/2\nb/1\n')
    r = await call('GET', '/sda/1/AUTH_a/list', {}, 'path=b')
    assert.equal(text(r), 'b/1\nb/2\n')
    assert.equal((await call('GET', '/sda/1/AUTH_a/list', {}, 'limit=10001')).status, 412)
    assert.equal((await call('GET', '/sda/1/AUTH_a/list', { accept: 'image/png' })).status, 406)
  })
})

describe('container server: requests it refuses', () => {
  it('507 for a missing device, 400 for bad paths and timestamps, 405 for unknown methods', async () => {
    assert.equal((await call('HEAD', '/sdz/1/AUTH_a/c')).status, 507)
    assert.equal((await call('PUT', '/sdz/1/AUTH_a/c', { 'x-timestamp': T(1) })).status, 507)
    assert.equal((await call('HEAD', '/sda/1/AUTH_a')).status, 400)
    assert.equal((await call('HEAD', '/sda//AUTH_a/c')).status, 400)
    assert.equal((await call('HEAD', '/sda/1/AUTH_a/c%ZZ')).status, 412)
    assert.equal((await call('PUT', '/sda/1/AUTH_a/c', {})).status, 400)
    assert.equal((await call('PUT', '/sda/1/AUTH_a/c', { 'x-timestamp': 'soon' })).status, 400)
    assert.equal((await call('PATCH', '/sda/1/AUTH_a/c')).status, 405)
  })

  it('PUT answers 404 when every account server says 404, and still succeeds when they fail otherwise', async () => {
    accountStatus = 404
    let r = await call('PUT', '/sda/1/AUTH_gone/c', { 'x-timestamp': T(1), ...acct })
    assert.equal(r.status, 404)
    accountStatus = 0 // connection refused: logged, retried later by the updater
    r = await call('PUT', '/sda/1/AUTH_gone/c2', { 'x-timestamp': T(1), ...acct })
    assert.equal(r.status, 201)
    accountStatus = 503
    r = await call('PUT', '/sda/1/AUTH_gone/c3', { 'x-timestamp': T(1), ...acct })
    assert.equal(r.status, 201)
    r = await call('PUT', '/sda/1/AUTH_gone/c4', { 'x-timestamp': T(1), ...acct, 'x-account-device': 'sdb,sdc' })
    assert.equal(r.status, 400)
    accountStatus = 201
  })

  it('quarantines a DB file that is not a DB and answers 404', async () => {
    const path = dbFilePath(root, 'sda', 'containers', 1, hashPath('AUTH_a', 'bad'))
    mkdirSync(dirname(path), { recursive: true })
    writeFileSync(path, 'not sqlite '.repeat(1000))
    const r = await call('HEAD', '/sda/1/AUTH_a/bad')
    assert.equal(r.status, 404)
    assert.equal(existsSync(path), false)
    assert.ok(existsSync(join(root, 'sda', 'quarantined', 'containers', hashPath('AUTH_a', 'bad'))))
  })
})

describe('container server: restart', () => {
  it('keeps everything acknowledged across a close and reopen', async () => {
    await call('PUT', '/sda/1/AUTH_a/durable', { 'x-timestamp': T(1), 'x-container-meta-k': 'v' })
    await putObj('durable', 'o', T(2), 7)
    server.close()
    server = createContainerServer({ devices: root, hashPath, logger: quiet,
      accountUpdate: async () => ({ status: 201, headers: {} }) })
    const r = await call('GET', '/sda/1/AUTH_a/durable', {}, 'format=json')
    assert.equal(r.status, 200)
    assert.equal(r.headers['x-container-meta-k'], 'v')
    assert.equal(JSON.parse(text(r))[0].bytes, 7)
  })
})
