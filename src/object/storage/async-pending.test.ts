import assert from 'node:assert/strict'
import { existsSync, readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { hashPath } from '../ring/hash.ts'
import type { BackendHandler, BackendRequest } from './backend.ts'
import { type AsyncPendingRecord, runUpdaterOnce } from './async-pending.ts'
import { backendContainerUpdater } from './container-update.ts'
import { createObjectServer } from './object-server.ts'
import { HASH_CFG, call, fakeUpdater, freshTs, putCall, tempDevices } from './object-test-kit.ts'

const CONT = { 'x-container-host': '10.0.0.1:6201, 10.0.0.2:6201', 'x-container-device': 'sdc,sdd', 'x-container-partition': '42' }

describe('container updates and async pending', () => {
  let env: ReturnType<typeof tempDevices>
  before(() => { env = tempDevices(['sda']) })
  after(() => env.cleanup())

  const pendingDir = () => join(env.root, 'sda', 'async_pending')
  const pendingFiles = (): string[] => existsSync(pendingDir())
    ? readdirSync(pendingDir()).flatMap((s) => readdirSync(join(pendingDir(), s)).map((f) => join(pendingDir(), s, f)))
    : []

  it('sends PUT, POST and DELETE updates with Swift headers to every named replica', async () => {
    const fake = fakeUpdater()
    const srv = createObjectServer({ devicesRoot: env.root, hashConfig: HASH_CFG, containerUpdate: fake.fn })
    const tput = freshTs()
    await call(srv, putCall('/sda/1/a/c/o%2Fx', 'hello', { ...CONT, 'x-timestamp': tput, 'content-type': 'text/plain', 'x-trans-id': 'tx1' }))
    assert.equal(fake.calls.length, 2)
    assert.deepEqual(fake.calls.map((c) => c.target), [
      { host: '10.0.0.1:6201', device: 'sdc', partition: '42' }, { host: '10.0.0.2:6201', device: 'sdd', partition: '42' }])
    const u = fake.calls[0].update
    assert.equal(u.op, 'PUT')
    assert.deepEqual([u.account, u.container, u.obj], ['a', 'c', 'o/x'])
    assert.equal(u.headers['x-size'], '5')
    assert.equal(u.headers['x-etag'], '5d41402abc4b2a76b9719d911017c592')
    assert.equal(u.headers['x-content-type'], 'text/plain')
    assert.equal(u.headers['x-timestamp'], tput)
    assert.equal(u.headers['x-backend-storage-policy-index'], '0')
    assert.equal(u.headers['x-trans-id'], 'tx1')

    fake.calls.length = 0
    const tpost = freshTs()
    await call(srv, { method: 'POST', path: '/sda/1/a/c/o%2Fx', headers: { ...CONT, 'x-timestamp': tpost, 'content-type': 'text/new' } })
    const pu = fake.calls[0].update
    assert.equal(pu.op, 'PUT')
    assert.equal(pu.headers['x-timestamp'], tput)
    assert.equal(pu.headers['x-meta-timestamp'], tpost)
    assert.equal(pu.headers['x-content-type'], 'text/new')
    assert.equal(pu.headers['x-content-type-timestamp'], tpost)
    assert.equal(pu.headers['x-size'], '5')

    fake.calls.length = 0
    const tdel = freshTs()
    await call(srv, { method: 'DELETE', path: '/sda/1/a/c/o%2Fx', headers: { ...CONT, 'x-timestamp': tdel } })
    assert.equal(fake.calls.length, 2)
    assert.equal(fake.calls[0].update.op, 'DELETE')
    assert.equal(fake.calls[0].update.headers['x-timestamp'], tdel)

    // Replication writes and requests without container headers send nothing.
    fake.calls.length = 0
    await call(srv, putCall('/sda/1/a/c/r', 'x', { ...CONT, 'x-backend-replication': 'true' }))
    await call(srv, putCall('/sda/1/a/c/r2', 'x'))
    assert.equal(fake.calls.length, 0)
    assert.deepEqual(pendingFiles(), [])
  })

  it('saves failed updates as async_pending and the updater delivers them', async () => {
    const fake = fakeUpdater()
    fake.fail = true
    const srv = createObjectServer({ devicesRoot: env.root, hashConfig: HASH_CFG, containerUpdate: fake.fn })
    const ts = freshTs()
    const put = await call(srv, putCall('/sda/1/a/c/pend', 'data', { ...CONT, 'x-timestamp': ts }))
    assert.equal(put.status, 201, 'the object write still succeeds')
    const hash = hashPath(HASH_CFG, 'a', 'c', 'pend')
    const files = pendingFiles()
    assert.deepEqual(files, [join(pendingDir(), hash.slice(-3), `${hash}-${ts}`)])
    const rec = JSON.parse(readFileSync(files[0], 'utf8')) as AsyncPendingRecord
    assert.equal(rec.op, 'PUT')
    assert.equal(rec.obj, 'pend')
    assert.equal(rec.partition, '42')
    assert.equal(rec.targets.length, 2)
    assert.equal(rec.headers['x-size'], '4')

    // First pass: one replica answers, the other still fails → the record remembers the success.
    const retry = fakeUpdater()
    let firstDown = true
    const flaky = async (t: Parameters<typeof retry.fn>[0], u: Parameters<typeof retry.fn>[1]) => {
      await retry.fn(t, u)
      if (t.device === 'sdd' && firstDown) throw new Error('still down')
    }
    const s1 = await runUpdaterOnce({ devicesRoot: env.root, containerUpdate: flaky })
    assert.deepEqual(s1, { successes: 0, failures: 1, unlinks: 0, quarantined: 0 })
    assert.deepEqual((JSON.parse(readFileSync(files[0], 'utf8')) as AsyncPendingRecord).successes, ['10.0.0.1:6201/sdc'])
    firstDown = false
    retry.calls.length = 0
    const s2 = await runUpdaterOnce({ devicesRoot: env.root, containerUpdate: flaky })
    assert.equal(s2.successes, 1)
    assert.deepEqual(retry.calls.map((c) => c.target.device), ['sdd'], 'only the replica still owed the update')
    assert.equal(retry.calls[0].update.headers['x-timestamp'], ts)
    assert.deepEqual(pendingFiles(), [])
  })

  it('keeps only the newest pending update per object', async () => {
    const fake = fakeUpdater()
    fake.fail = true
    const srv = createObjectServer({ devicesRoot: env.root, hashConfig: HASH_CFG, containerUpdate: fake.fn })
    await call(srv, putCall('/sda/1/a/c/twice', 'v1', CONT))
    const tdel = freshTs()
    await call(srv, { method: 'DELETE', path: '/sda/1/a/c/twice', headers: { ...CONT, 'x-timestamp': tdel } })
    assert.equal(pendingFiles().length, 2)
    const ok = fakeUpdater()
    const stats = await runUpdaterOnce({ devicesRoot: env.root, containerUpdate: ok.fn })
    assert.equal(stats.successes, 1)
    assert.equal(stats.unlinks, 2)
    assert.deepEqual(ok.calls.map((c) => [c.update.op, c.update.headers['x-timestamp']]), [['DELETE', tdel], ['DELETE', tdel]])
    assert.deepEqual(pendingFiles(), [])
  })

  it('does not make a write wait for a slow container beyond the timeout', async () => {
    let release: () => void = () => {}
    const slow = (): Promise<void> => new Promise((_, reject) => { release = () => reject(new Error('too late')) })
    const srv = createObjectServer({ devicesRoot: env.root, hashConfig: HASH_CFG, containerUpdate: slow, containerUpdateTimeoutMs: 20 })
    const r = await call(srv, putCall('/sda/1/a/c/slow', 'x', { ...CONT, 'x-container-host': '10.0.0.1:6201', 'x-container-device': 'sdc' }))
    assert.equal(r.status, 201)
    assert.deepEqual(pendingFiles(), [])
    release()
    for (let i = 0; i < 50 && !pendingFiles().length; i++) await new Promise((res) => setTimeout(res, 10))
    assert.equal(pendingFiles().length, 1, 'the late failure is saved in the background')
    await runUpdaterOnce({ devicesRoot: env.root, containerUpdate: fakeUpdater().fn })
  })

  it('speaks the backend protocol to a container server handler', async () => {
    const seen: BackendRequest[] = []
    const container: BackendHandler = async (req) => { seen.push(req); return { status: 201, headers: {} } }
    const srv = createObjectServer({ devicesRoot: env.root, hashConfig: HASH_CFG, containerRoute: () => container })
    const ts = freshTs()
    await call(srv, putCall('/sda/1/a/c/dir/ob%20j', 'abc', { ...CONT, 'x-timestamp': ts }))
    assert.equal(seen.length, 2)
    assert.equal(seen[0].method, 'PUT')
    assert.equal(seen[0].path, '/sdc/42/a/c/dir/ob%20j')
    assert.equal(seen[0].headers['x-size'], '3')
    assert.equal(seen[0].headers['x-timestamp'], ts)
    assert.deepEqual(pendingFiles(), [])
    // A non-2xx answer is a failure.
    const refusing = backendContainerUpdater({ route: () => async () => ({ status: 507, headers: {} }) })
    await assert.rejects(refusing({ host: 'h:1', device: 'd', partition: '1' }, { op: 'PUT', account: 'a', container: 'c', obj: 'o', headers: {} }))
  })
})
