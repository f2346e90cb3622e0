import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { BackendResponse } from './backend.ts'
import { createAccountServer, type AccountServer } from './account-server.ts'
import { createContainerServer, type ContainerServer } from './container-server.ts'

const hashPath = (a: string, c?: string) => createHash('md5').update(`p/${a}${c ? '/' + c : ''}s`).digest('hex')
const T = (s: number) => (1700000000 + s).toFixed(5)
const quiet = { error: () => {}, warn: () => {}, info: () => {}, debug: () => {} }

let root: string
let accounts: AccountServer
let containers: ContainerServer

before(() => {
  root = mkdtempSync(join(tmpdir(), 'cumulo-aserver-'))
  mkdirSync(join(root, 'sda'))
  const policies = [{ index: 0, name: 'Policy-0', isDefault: true }, { index: 1, name: 'Gold' }]
  accounts = createAccountServer({ devices: root, hashPath, logger: quiet, policies })
  // The container server reaches the account server in-process, as in all-in-one.
  containers = createContainerServer({ devices: root, hashPath, logger: quiet, policies,
    accountUpdate: (_host, req) => accounts(req) })
})
after(() => { accounts.close(); containers.close(); rmSync(root, { recursive: true, force: true }) })

function call(method: string, path: string, headers: Record<string, string> = {}, query = ''): Promise<BackendResponse> {
  return accounts({ method, path, headers, query: new URLSearchParams(query) })
}
const text = (r: BackendResponse) => (Buffer.isBuffer(r.body) ? r.body.toString('utf8') : '')
const report = (put: string, del: string, count: number, bytes: number, policy = 0) => ({
  'x-put-timestamp': put, 'x-delete-timestamp': del, 'x-object-count': String(count), 'x-bytes-used': String(bytes),
  'x-backend-storage-policy-index': String(policy), 'x-timestamp': put,
})

describe('account server', () => {
  it('PUT creates (201) then accepts (202), storing metadata', async () => {
    assert.equal((await call('PUT', '/sda/2/AUTH_t', { 'x-timestamp': T(1), 'x-account-meta-quota': '10' })).status, 201)
    assert.equal((await call('PUT', '/sda/2/AUTH_t', { 'x-timestamp': T(2) })).status, 202)
    const r = await call('HEAD', '/sda/2/AUTH_t')
    assert.equal(r.status, 204)
    assert.equal(r.headers['x-account-meta-quota'], '10')
    assert.equal(r.headers['x-put-timestamp'], T(2))
    assert.equal(r.headers['x-account-container-count'], '0')
    assert.equal(r.headers['content-type'], 'text/plain; charset=utf-8')
  })

  it('records container reports (201; 204 for a deleted one) and totals them, per policy too', async () => {
    assert.equal((await call('PUT', '/sda/2/AUTH_t/c1', report(T(3), '0', 2, 20))).status, 201)
    assert.equal((await call('PUT', '/sda/2/AUTH_t/c2', report(T(3), '0', 1, 5, 1))).status, 201)
    assert.equal((await call('PUT', '/sda/2/AUTH_t/old', report(T(3), T(4), 0, 0))).status, 204)
    assert.equal((await call('PUT', '/sda/2/AUTH_t/c3', { 'x-put-timestamp': T(3) })).status, 400)
    assert.equal((await call('PUT', '/sda/2/AUTH_nobody/c', report(T(3), '0', 0, 0))).status, 404)
    const r = await call('HEAD', '/sda/2/AUTH_t')
    assert.equal(r.headers['x-account-container-count'], '2')
    assert.equal(r.headers['x-account-object-count'], '3')
    assert.equal(r.headers['x-account-bytes-used'], '25')
    assert.equal(r.headers['x-account-storage-policy-gold-container-count'], '1')
    assert.equal(r.headers['x-account-storage-policy-gold-bytes-used'], '5')
    assert.equal(r.headers['x-account-storage-policy-policy-0-object-count'], '2')
  })

  it('lists containers as plain, JSON and XML', async () => {
    let r = await call('GET', '/sda/2/AUTH_t')
    assert.equal(r.status, 200)
    assert.equal(text(r), 'c1\nc2\n')
    r = await call('GET', '/sda/2/AUTH_t', {}, 'format=json')
    assert.equal(text(r), '[{"name": "c1", "count": 2, "bytes": 20, "last_modified": "2023-11-14T22:13:23.000000", ' +
      '"storage_policy": "Policy-0"}, {"name": "c2", "count": 1, "bytes": 5, "last_modified": "2023-11-14T22:13:23.000000", ' +
      '"storage_policy": "Gold"}]')
    assert.equal(r.headers['x-account-container-count'], '2')
    r = await call('GET', '/sda/2/AUTH_t', { accept: 'text/xml' }, 'prefix=c2')
    assert.equal(r.headers['content-type'], 'text/xml; charset=utf-8')
    assert.equal(text(r), '<?xml version="1.0" encoding="UTF-8"?>\n<account name="AUTH_t">\n<container><name>c2</name>' +
      '<count>1</count><bytes>5</bytes><last_modified>2023-11-14T22:13:23.000000</last_modified>' +
      '<storage_policy>Gold</storage_policy></container>\n</account>')
    r = await call('GET', '/sda/2/AUTH_t', {}, 'prefix=zz')
    assert.equal(r.status, 204)
    r = await call('GET', '/sda/2/AUTH_t', {}, 'prefix=zz&format=json')
    assert.deepEqual([r.status, text(r)], [200, '[]'])
    assert.equal((await call('GET', '/sda/2/AUTH_t', {}, 'limit=20000')).status, 412)
  })

  it('POST updates metadata; 404 for a missing account', async () => {
    assert.equal((await call('POST', '/sda/2/AUTH_t', { 'x-timestamp': T(5), 'x-account-meta-quota': '',
      'x-account-meta-new': 'y' })).status, 204)
    const r = await call('HEAD', '/sda/2/AUTH_t')
    assert.equal(r.headers['x-account-meta-new'], 'y')
    assert.equal('x-account-meta-quota' in r.headers, false)
    assert.equal((await call('POST', '/sda/2/AUTH_none', { 'x-timestamp': T(5) })).status, 404)
  })

  it('DELETE marks the account deleted: 404 with X-Account-Status, PUT 403, reports need override', async () => {
    let r = await call('DELETE', '/sda/2/AUTH_t', { 'x-timestamp': T(6) })
    assert.equal(r.status, 204)
    assert.equal(r.headers['x-account-status'], 'Deleted')
    r = await call('HEAD', '/sda/2/AUTH_t')
    assert.deepEqual([r.status, r.headers['x-account-status']], [404, 'Deleted'])
    r = await call('PUT', '/sda/2/AUTH_t', { 'x-timestamp': T(7) })
    assert.deepEqual([r.status, text(r)], [403, 'Recently deleted'])
    assert.equal((await call('PUT', '/sda/2/AUTH_t/c9', report(T(7), '0', 0, 0))).status, 404)
    assert.equal((await call('PUT', '/sda/2/AUTH_t/c9', { ...report(T(7), '0', 0, 0),
      'x-account-override-deleted': 'yes' })).status, 201)
    assert.equal((await call('DELETE', '/sda/2/AUTH_t', { 'x-timestamp': T(8) })).status, 404)
    assert.equal((await call('DELETE', '/sda/2/AUTH_never', { 'x-timestamp': T(8) })).status, 404)
  })

  it('auto-creates "." accounts on a container report; refuses bad requests', async () => {
    assert.equal((await call('PUT', '/sda/2/.expiring_objects/1700000000', report(T(1), '0', 1, 0))).status, 201)
    assert.equal((await call('HEAD', '/sda/2/.expiring_objects')).headers['x-account-container-count'], '1')
    assert.equal((await call('HEAD', '/sdq/2/AUTH_t')).status, 507)
    assert.equal((await call('PUT', '/sda/2/AUTH_x', {})).status, 400)
    assert.equal((await call('COPY', '/sda/2/AUTH_x')).status, 405)
  })

  it('receives the container server\'s updates (wired in-process)', async () => {
    const acct = { 'x-account-host': 'local:6202', 'x-account-device': 'sda', 'x-account-partition': '2' }
    await call('PUT', '/sda/2/AUTH_w', { 'x-timestamp': T(1) })
    const c = (method: string, path: string, headers: Record<string, string>) =>
      containers({ method, path, headers, query: new URLSearchParams() })
    assert.equal((await c('PUT', '/sda/5/AUTH_w/photos', { 'x-timestamp': T(2), ...acct })).status, 201)
    let r = await call('GET', '/sda/2/AUTH_w', {}, 'format=json')
    assert.deepEqual(JSON.parse(text(r)).map((e: { name: string }) => e.name), ['photos'])
    assert.equal((await c('DELETE', '/sda/5/AUTH_w/photos', { 'x-timestamp': T(3), ...acct })).status, 204)
    r = await call('HEAD', '/sda/2/AUTH_w')
    assert.equal(r.headers['x-account-container-count'], '0')
    // A container PUT to a missing account: every account server says 404, so does the PUT.
    assert.equal((await c('PUT', '/sda/5/AUTH_missing/x', { 'x-timestamp': T(2), ...acct })).status, 404)
  })
})
