import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { request } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomUUID } from 'node:crypto'
import { createLogger } from '../../core/log.ts'
import { insertTestInstance } from '../control-testing.ts'
import { type PendingOp, bumpHost, notify, setDesired } from '../instances.ts'
import { type ComputeHarness, computeHarness } from '../testing.ts'
import { FAKE_READY_MARKER, FakeDriver } from '../virt/fake.ts'
import { ComputeAgent } from './agent.ts'

// The agent against a real controller (agent API over HTTP, Keystone and Glance over HTTP) with
// the fake driver: rows are written as the servers API writes them (docs/compute.md).

const HOST = 'agent-h1'

describe('compute agent', () => {
  let h: ComputeHarness
  let controlUrl: string
  let identityUrl: string
  let dataDir: string
  let driver: FakeDriver
  let agent: ComputeAgent
  let image: { id: string; checksum: string; size: number }
  const db = () => h.compute.ctx.db
  const c = () => h.compute.ctx

  const makeAgent = () => new ComputeAgent({
    controlUrl, host: HOST, token: async () => h.identity.adminToken, identityUrl, glanceUrl: h.imageUrl,
    dataDir, driver, log: createLogger({ level: process.env.AGENT_TEST_LOG ?? 'silent' }), heartbeatMs: 100, watchWaitS: 1,
  })

  before(async () => {
    h = await computeHarness()
    await h.compute.api.listen({ host: '127.0.0.1', port: 0 })
    controlUrl = `http://127.0.0.1:${(h.compute.api.server.address() as AddressInfo).port}`
    await h.identity.identity.api.listen({ host: '127.0.0.1', port: 0 })
    identityUrl = `http://127.0.0.1:${(h.identity.identity.api.server.address() as AddressInfo).port}/v3`
    dataDir = mkdtempSync(join(tmpdir(), 'cag-'))
    driver = new FakeDriver()
    const id = await h.makeImage({ data: Buffer.from('a tiny qcow2 of sorts') })
    const img = await h.image.api.inject({ method: 'GET', url: `/v2/images/${id}`, headers: { 'x-auth-token': h.identity.adminToken } })
    image = { id, checksum: img.json().checksum, size: img.json().size }
    agent = makeAgent()
    await agent.start()
  })
  after(async () => {
    const t = Date.now(); const lap = (w: string) => process.env.AGENT_TEST_TIME && console.error(w, Date.now() - t)
    await agent.stop(); lap('agent')
    // Keep-alive sockets of the stopped agents' HTTP client would hold close() up.
    h.compute.api.server.closeAllConnections()
    await h.compute.api.close(); lap('compute')
    await h.identity.identity.api.close(); lap('identity')
    await h.close(); lap('harness')
    rmSync(dataDir, { recursive: true, force: true })
  })

  const get = (uuid: string) => db().selectFrom('instances').selectAll().where('uuid', '=', uuid).executeTakeFirstOrThrow()
  async function until<T>(what: string, f: () => Promise<T | undefined | false>, ms = 8000): Promise<T> {
    const end = Date.now() + ms
    for (;;) {
      const v = await f()
      if (v) return v
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(v)}`)
      await new Promise((r) => setTimeout(r, 20))
    }
  }
  /** A server placed on this agent's host, as the conductor leaves it. */
  async function placed(o: Parameters<typeof insertTestInstance>[1] & { checksum?: string; diskFormat?: string } = {}) {
    const { checksum, diskFormat, ...rest } = o
    const row = await insertTestInstance(c(), {
      host: HOST, node: HOST, task_state: 'spawning', image_ref: image.id,
      system_metadata: JSON.stringify({ image_disk_format: diskFormat ?? 'qcow2', image_container_format: 'bare',
        image_checksum: checksum ?? image.checksum, image_size: String(image.size) }),
      ...rest,
    })
    await bumpHost(db(), HOST)
    notify(c(), HOST)
    return row
  }
  async function change(uuid: string, patch: Parameters<typeof setDesired>[2]) {
    await setDesired(db(), await get(uuid), patch)
    notify(c(), HOST)
  }
  const active = (uuid: string) => until(`${uuid} active`, async () => {
    const r = await get(uuid)
    return r.vm_state === 'active' && r.task_state === null && r.applied_gen === r.desired_gen ? r : undefined
  })

  test('registers the host with its resources and agent_url, and heartbeats', async () => {
    const node = await db().selectFrom('compute_nodes').selectAll().where('host', '=', HOST).executeTakeFirstOrThrow()
    assert.equal(node.vcpus, 16)
    assert.equal(node.memory_mb, 65536)
    assert.equal(node.hypervisor_type, 'fake')
    assert.equal(node.agent_url, agent.agentUrl)
    assert.match(node.agent_url, /^http:\/\/127\.0\.0\.1:\d+$/)
    const seen = (await db().selectFrom('services').select('last_seen_at').where('host', '=', HOST).executeTakeFirstOrThrow()).last_seen_at!
    await until('a heartbeat', async () => {
      const s = await db().selectFrom('services').select('last_seen_at').where('host', '=', HOST).executeTakeFirstOrThrow()
      return s.last_seen_at! > seen
    })
  })

  test('spawns a new server, reports it active with its address; stop, start, reboot, delete', async () => {
    const row = await placed()
    const r = await active(row.uuid)
    assert.equal(r.power_state, 1)
    assert.ok(r.launched_at)
    assert.deepEqual(JSON.parse(r.addresses), { user: [{ version: 4, addr: '169.254.0.15', 'OS-EXT-IPS:type': 'fixed',
      'OS-EXT-IPS-MAC:mac_addr': (await import('../agent-hosts.ts')).macOf(row.uuid) }] })
    assert.equal(await driver.getState(row.uuid), 'running')

    await change(row.uuid, { desired_power: 'shutdown', task_state: 'powering-off' })
    await until('stopped', async () => (await get(row.uuid)).vm_state === 'stopped')
    assert.equal(await driver.getState(row.uuid), 'shutdown')
    assert.equal((await get(row.uuid)).power_state, 4)

    await change(row.uuid, { desired_power: 'running', task_state: 'powering-on' })
    await active(row.uuid)
    assert.equal(await driver.getState(row.uuid), 'running')

    const boots = async () => (await driver.consoleOutput(row.uuid)).split(FAKE_READY_MARKER).length - 1
    const before = await boots()
    const op: PendingOp = { id: randomUUID(), kind: 'reboot', type: 'SOFT' }
    await change(row.uuid, { pending_op: JSON.stringify(op), task_state: 'rebooting' })
    await until('reboot done', async () => { const x = await get(row.uuid); return x.pending_op === null && x.task_state === null })
    assert.equal(await boots(), before + 1)
    // Another watch answer must not run the same op again.
    await bumpHost(db(), HOST); notify(c(), HOST)
    await agent.settled(); await agent.settled()
    assert.equal(await boots(), before + 1)

    await change(row.uuid, { desired_power: 'deleted', task_state: 'deleting' })
    await until('deleted', async () => (await get(row.uuid)).deleted === 1)
    assert.ok(!(await driver.list()).some((g) => g.id === row.uuid))
    const x = await get(row.uuid)
    assert.equal(x.vm_state, 'deleted')
  })

  test('snapshot op uploads the disk to the image the API made', async () => {
    const row = await placed()
    await active(row.uuid)
    const cr = await h.image.api.inject({ method: 'POST', url: '/v2/images', headers: { 'x-auth-token': h.identity.adminToken, 'content-type': 'application/json' },
      payload: JSON.stringify({ name: 'snap', disk_format: 'qcow2', container_format: 'bare' }) })
    const imageId = cr.json().id as string
    await change(row.uuid, { pending_op: JSON.stringify({ id: randomUUID(), kind: 'snapshot', imageId }), task_state: 'image_snapshot' })
    await until('snapshot done', async () => (await get(row.uuid)).pending_op === null)
    const img = await h.image.api.inject({ method: 'GET', url: `/v2/images/${imageId}`, headers: { 'x-auth-token': h.identity.adminToken } })
    assert.equal(img.json().status, 'active')
    const data = await h.image.api.inject({ method: 'GET', url: `/v2/images/${imageId}/file`, headers: { 'x-auth-token': h.identity.adminToken } })
    assert.match(data.body, new RegExp(`fake snapshot of ${row.uuid}`))
    await change(row.uuid, { desired_power: 'deleted', task_state: 'deleting' })
    await until('deleted', async () => (await get(row.uuid)).deleted === 1)
  })

  test('a checksum mismatch is a fault: the build is rescheduled, nothing cached, no guest', async () => {
    // A fresh image: a cached one is not downloaded (nor checked) again.
    const id = await h.makeImage({ data: Buffer.from('another disk') })
    const row = await placed({ checksum: '0'.repeat(32), image_ref: id })
    const f = await until('a fault', () => db().selectFrom('instance_faults').selectAll().where('uuid', '=', row.uuid).executeTakeFirst())
    assert.match(f.message, /failed verification: its MD5 is [0-9a-f]{32}, Glance says 0{32}/)
    // Rescheduled: the host is given back and retried elsewhere (this is the only host, so the
    // conductor may bring it back here or end in ERROR; it never becomes active).
    const r = await until('given back', async () => { const x = await get(row.uuid); return x.host === null || x.vm_state === 'error' ? x : undefined })
    assert.ok(JSON.parse(r.system_metadata).retry_hosts.includes(HOST))
    assert.notEqual(r.vm_state, 'active')
    assert.ok(!(await driver.list()).some((g) => g.id === row.uuid))
    assert.ok(!readdirSync(join(dataDir, 'images')).some((n) => n.startsWith(id)))
  })

  test('an unsupported disk format is a fault without reschedule (ERROR)', async () => {
    const row = await placed({ diskFormat: 'vmdk', vm_state: 'building' })
    const r = await until('error', async () => { const x = await get(row.uuid); return x.vm_state === 'error' ? x : undefined })
    assert.equal(r.task_state, null)
    const f = await db().selectFrom('instance_faults').selectAll().where('uuid', '=', row.uuid).executeTakeFirstOrThrow()
    assert.match(f.message, /disk format vmdk is not supported/)
  })

  test('metadata server answers its own instance only', async () => {
    const a = await placed({ key_name: 'k1', key_data: 'ssh-ed25519 AAAA k1', user_data: Buffer.from('#!/bin/sh\necho hi\n').toString('base64') })
    const b = await placed()
    await active(a.uuid); await active(b.uuid)
    const sock = (u: string) => join(dataDir, 'instances', u, 'md.sock')
    const md = JSON.parse((await unixGet(sock(a.uuid), '/openstack/latest/meta_data.json')).body)
    assert.equal(md.uuid, a.uuid)
    assert.deepEqual(md.public_keys, { k1: 'ssh-ed25519 AAAA k1' })
    assert.equal(md.availability_zone, 'nova')
    assert.equal((await unixGet(sock(a.uuid), '/openstack/latest/user_data')).body, '#!/bin/sh\necho hi\n')
    assert.equal((await unixGet(sock(a.uuid), '/latest/meta-data/local-ipv4')).body, '169.254.0.15')
    assert.equal(JSON.parse((await unixGet(sock(b.uuid), '/openstack/latest/meta_data.json')).body).uuid, b.uuid)
    assert.equal((await unixGet(sock(b.uuid), '/latest/user-data')).status, 404)
    for (const x of [a, b]) await change(x.uuid, { desired_power: 'deleted', task_state: 'deleting' })
    await until('both deleted', async () => (await get(a.uuid)).deleted === 1 && (await get(b.uuid)).deleted === 1)
    await assert.rejects(unixGet(sock(a.uuid), '/'))
  })

  test('console endpoint: admin and own project allowed, other project 403, unknown 404', async () => {
    const owner = await h.projectUser('member')
    const other = await h.projectUser('member')
    const row = await placed({ project_id: owner.projectId })
    await active(row.uuid)
    const con = (uuid: string, token?: string, q = '') => fetch(`${agent.agentUrl}/instances/${uuid}/console${q}`,
      { headers: token ? { 'x-auth-token': token } : {} })
    let r = await con(row.uuid, h.identity.adminToken)
    assert.equal(r.status, 200)
    assert.match((await r.json() as { output: string }).output, new RegExp(FAKE_READY_MARKER))
    // Lines counted as Nova's _tail_log does: the empty piece after the final newline is one.
    r = await con(row.uuid, owner.token, '?length=2')
    assert.equal(r.status, 200)
    const tail = (await r.json() as { output: string }).output
    assert.equal(tail.split('\n').filter(Boolean).length, 1)
    assert.match(tail, new RegExp(`${FAKE_READY_MARKER}.*\\n$`))
    r = await con(row.uuid, other.token)
    assert.equal(r.status, 403)
    r = await con(row.uuid)
    assert.equal(r.status, 401)
    r = await con(row.uuid, 'not-a-token')
    assert.equal(r.status, 401)
    r = await con(randomUUID(), h.identity.adminToken)
    assert.equal(r.status, 404)
    r = await con(row.uuid, h.identity.adminToken, '?length=abc')
    assert.equal(r.status, 400)
    await change(row.uuid, { desired_power: 'deleted', task_state: 'deleting' })
    await until('deleted', async () => (await get(row.uuid)).deleted === 1)
  })

  test('end to end through the servers API: create → ACTIVE, stop → SHUTOFF, start, delete', async () => {
    const f = await h.json('POST', '/v2.1/flavors', { body: { flavor: { name: 'agent-e2e', id: 'f-agent-e2e', ram: 512, vcpus: 1, disk: 1 } } })
    assert.equal(f.status, 200, JSON.stringify(f.body))
    const r = await h.json('POST', '/v2.1/servers', { body: { server: { name: 'e2e', imageRef: image.id, flavorRef: 'f-agent-e2e' } } })
    assert.equal(r.status, 202, JSON.stringify(r.body))
    const id = r.body.server.id as string
    const show = async () => (await h.json('GET', `/v2.1/servers/${id}`, { version: '2.47' })).body.server
    const status = (want: string) => until(`server ${want}`, async () => { const s = await show(); return s.status === want ? s : undefined })
    const s = await status('ACTIVE')
    assert.equal(s['OS-EXT-STS:power_state'], 1)
    assert.equal(s.addresses.user[0].addr, '169.254.0.15')
    assert.equal(await driver.getState(id), 'running')
    let a = await h.json('POST', `/v2.1/servers/${id}/action`, { body: { 'os-stop': null } })
    assert.equal(a.status, 202, JSON.stringify(a.body))
    await status('SHUTOFF')
    assert.equal(await driver.getState(id), 'shutdown')
    a = await h.json('POST', `/v2.1/servers/${id}/action`, { body: { 'os-start': null } })
    assert.equal(a.status, 202, JSON.stringify(a.body))
    await status('ACTIVE')
    assert.equal((await h.json('DELETE', `/v2.1/servers/${id}`)).status, 204)
    await until('server gone', async () => (await h.json('GET', `/v2.1/servers/${id}`)).status === 404)
    assert.ok(!(await driver.list()).some((g) => g.id === id))
  })

  test('a restart keeps guests, converges on changes made meanwhile and destroys orphans', async () => {
    const keep = await placed()
    const gone = await placed()
    await active(keep.uuid); await active(gone.uuid)
    const consoleBefore = await driver.consoleOutput(keep.uuid)
    await agent.stop()
    assert.equal(await driver.getState(keep.uuid), 'running')
    // While the agent is away: one server is stopped, the other deleted locally (API "local delete").
    await change(keep.uuid, { desired_power: 'shutdown', task_state: 'powering-off' })
    await db().updateTable('instances').set({ deleted: 1, vm_state: 'deleted', deleted_at: new Date().toISOString() })
      .where('uuid', '=', gone.uuid).execute()
    await bumpHost(db(), HOST)
    agent = makeAgent()
    await agent.start()
    await until('stopped', async () => (await get(keep.uuid)).vm_state === 'stopped')
    await until('orphan destroyed', async () => !(await driver.list()).some((g) => g.id === gone.uuid))
    // Not respawned: the same guest, only powered off.
    assert.equal(await driver.getState(keep.uuid), 'shutdown')
    assert.ok((await driver.consoleOutput(keep.uuid)).startsWith(consoleBefore))
    await change(keep.uuid, { desired_power: 'deleted', task_state: 'deleting' })
    await until('deleted', async () => (await get(keep.uuid)).deleted === 1)
  })

  test('an op recorded as done before a restart is reported, not run again', async () => {
    const row = await placed()
    await active(row.uuid)
    await agent.stop()
    const op: PendingOp = { id: randomUUID(), kind: 'reboot', type: 'HARD' }
    await change(row.uuid, { pending_op: JSON.stringify(op), task_state: 'rebooting_hard' })
    // As if the agent ran it and died before its report got through.
    const { InstanceFiles } = await import('./instance-files.ts')
    await new InstanceFiles(join(dataDir, 'instances')).recordOp(row.uuid, { id: op.id, result: 'ok' })
    const before = await driver.consoleOutput(row.uuid)
    agent = makeAgent()
    await agent.start()
    await until('op reported', async () => (await get(row.uuid)).pending_op === null)
    assert.equal(await driver.consoleOutput(row.uuid), before)
  })
})

function unixGet(socketPath: string, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, path, method: 'GET' }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (d) => { body += d })
      res.on('end', () => resolve({ status: res.statusCode!, body }))
    })
    req.on('error', reject)
    req.end()
  })
}
