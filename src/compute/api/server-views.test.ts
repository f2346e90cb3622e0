import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { isIPv4, isIPv6 } from 'node:net'
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { Ajv } from 'ajv'
import { type ComputeHarness, computeHarness } from '../testing.ts'
import { hostStatus, serverStatus, statesFromStatus } from './server-views.ts'

// Every server answer validated against the response schemas of the installed Tempest (the
// schemas its compute tests check each answer with), at the microversions where they change,
// for an admin and a member, for servers in BUILD, ACTIVE (with an address and a host) and ERROR.

const PY = '/usr/bin/python3'
const TEMPEST = '/usr/lib/python3/dist-packages/tempest/lib/api_schema/response/compute'
const VERSIONS = ['2.1', '2.3', '2.9', '2.16', '2.19', '2.26', '2.47', '2.63', '2.71', '2.73', '2.75', '2.79']
const NAMES = ['get_server', 'list_servers', 'list_servers_detail', 'update_server']
const haveTempest = existsSync(TEMPEST) && existsSync(PY)

/** Tempest's schemas as JSON: {version: {name: schema}}. */
function tempestSchemas(): Record<string, Record<string, any>> {
  const script = `
import json, sys
sys.path.insert(0, '/usr/lib/python3/dist-packages')
import importlib
out = {}
for v in ${JSON.stringify(VERSIONS)}:
    m = importlib.import_module('tempest.lib.api_schema.response.compute.v' + v.replace('.', '_') + '.servers')
    out[v] = {n: getattr(m, n) for n in ${JSON.stringify(NAMES)}}
m = importlib.import_module('tempest.lib.api_schema.response.compute.v2_1.servers')
out['create'] = m.create_server_with_admin_pass
print(json.dumps(out))
`
  return JSON.parse(execFileSync(PY, ['-c', script], { encoding: 'utf8' }))
}

describe('server views against Tempest\'s schemas', { skip: !haveTempest && 'Tempest is not installed' }, () => {
  let h: ComputeHarness
  let schemas: Record<string, Record<string, any>>
  let member: { projectId: string; userId: string; token: string }
  const ajv = new Ajv({ strict: false, allErrors: true, logger: false })
  // The formats Tempest's schemas use, checked as its format checker does.
  ajv.addFormat('ipv4', (v: string) => isIPv4(v))
  ajv.addFormat('ipv6', (v: string) => isIPv6(v))
  ajv.addFormat('uuid', /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i)
  ajv.addFormat('iso8601', (v: string) => !Number.isNaN(Date.parse(v)))
  ajv.addFormat('date-time', (v: string) => !Number.isNaN(Date.parse(v)))
  ajv.addFormat('uri', (v: string) => { try { return !!new URL(v) } catch { return false } })
  const ids: string[] = []
  before(async () => {
    schemas = tempestSchemas()
    h = await computeHarness()
    await h.compute.conductor.stop()
    member = await h.projectUser('member')
    const image = await h.makeImage()
    let r = await h.json('POST', '/v2.1/flavors', { body: { flavor: { name: 'v', id: 'fv', ram: 256, vcpus: 1, disk: 1 } } })
    assert.equal(r.status, 200)
    r = await h.json('POST', '/v2.1/flavors/fv/os-extra_specs', { body: { extra_specs: { 'hw:mem_page_size': 'small' } } })
    for (let i = 0; i < 3; i++) {
      r = await h.json('POST', '/v2.1/servers', { token: member.token, version: '2.52',
        body: { server: { name: `v${i}`, imageRef: image, flavorRef: 'fv', networks: 'auto', metadata: { k: 'v' }, tags: ['t'] } } })
      assert.equal(r.status, 202, JSON.stringify(r.body))
      assert.ok(ajv.validate(schemas.create!.response_body, r.body), JSON.stringify(ajv.errors))
      ids.push((r.body as { server: { id: string } }).server.id)
    }
    const db = h.compute.ctx.db
    const now = new Date().toISOString()
    await db.insertInto('services').values({ uuid: 'svc-1', host: 'c1', binary: 'nova-compute', zone: 'az1', disabled: 0,
      disabled_reason: null, forced_down: 0, last_seen_at: now, created_at: now, updated_at: null } as never).execute()
    await db.updateTable('instances').set({ vm_state: 'active', task_state: null, power_state: 1, host: 'c1', node: 'c1',
      launched_at: now, addresses: JSON.stringify({ user: [{ version: 4, addr: '169.254.0.2', 'OS-EXT-IPS:type': 'fixed',
        'OS-EXT-IPS-MAC:mac_addr': 'fa:16:3e:12:34:56' }] }) }).where('uuid', '=', ids[1]!).execute()
    await db.updateTable('instances').set({ vm_state: 'error', task_state: null }).where('uuid', '=', ids[2]!).execute()
    await db.insertInto('instance_faults').values({ uuid: ids[2]!, code: 500, message: 'No valid host was found. ', details: 'x',
      host: null, created_at: now } as never).execute()
  })
  after(async () => { await h?.close() })

  function check(version: string, name: string, body: unknown, status: number, expected: number[]) {
    const s = schemas[version]![name]
    assert.ok(s.status_code.includes(status) && expected.includes(status), `${name}@${version}: status ${status}`)
    const ok = ajv.validate(s.response_body, body)
    assert.ok(ok, `${name}@${version}: ${ajv.errorsText(ajv.errors)}\n${JSON.stringify(body).slice(0, 2000)}`)
  }

  for (const version of VERSIONS) {
    for (const who of ['admin', 'member'] as const) {
      test(`${version} as ${who}: show, list, detail, update`, async () => {
        const token = who === 'admin' ? h.identity.adminToken : member.token
        const q = who === 'admin' ? '?all_tenants=1' : ''
        for (const id of ids) {
          const r = await h.json('GET', `/v2.1/servers/${id}`, { token, version })
          check(version, 'get_server', r.body, r.status, [200])
          // Admins see the extended attributes; members never do.
          assert.equal('OS-EXT-SRV-ATTR:host' in r.body.server, who === 'admin')
        }
        let r = await h.json('GET', `/v2.1/servers${q}`, { token, version })
        check(version, 'list_servers', r.body, r.status, [200])
        r = await h.json('GET', `/v2.1/servers/detail${q}`, { token, version })
        check(version, 'list_servers_detail', r.body, r.status, [200])
        assert.equal((r.body as { servers: unknown[] }).servers.length, 3)
        r = await h.json('PUT', `/v2.1/servers/${ids[1]}`, { token, version, body: { server: { name: `renamed-${version}` } } })
        check(version, 'update_server', r.body, r.status, [200])
      })
    }
  }

  test('ACTIVE server details: address with MAC, AZ of its host, hostId, host_status, launched_at', async () => {
    const r = await h.json('GET', `/v2.1/servers/${ids[1]}`, { version: '2.16' })
    const s = r.body.server
    assert.equal(s.status, 'ACTIVE')
    assert.equal(s['OS-EXT-AZ:availability_zone'], 'az1')
    assert.equal(s.host_status, 'UP')
    assert.match(s.hostId, /^[0-9a-f]{56}$/)
    assert.match(s['OS-SRV-USG:launched_at'], /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$/)
    assert.deepEqual(s.addresses.user[0], { version: 4, addr: '169.254.0.2', 'OS-EXT-IPS:type': 'fixed', 'OS-EXT-IPS-MAC:mac_addr': 'fa:16:3e:12:34:56' })
    // The short (update) view leaves the OS-EXT-IPS fields out.
    const u = await h.json('PUT', `/v2.1/servers/${ids[1]}`, { body: { server: { name: 'again' } } })
    assert.deepEqual(u.body.server.addresses.user[0], { version: 4, addr: '169.254.0.2' })
  })
})

describe('server status mapping', () => {
  test('vm_state × task_state → status, and back', () => {
    assert.equal(serverStatus('active', null), 'ACTIVE')
    assert.equal(serverStatus('active', 'rebooting'), 'REBOOT')
    assert.equal(serverStatus('active', 'rebooting_hard'), 'HARD_REBOOT')
    assert.equal(serverStatus('active', 'deleting'), 'ACTIVE')
    assert.equal(serverStatus('active', 'resize_prep'), 'RESIZE')
    assert.equal(serverStatus('stopped', 'rebuilding'), 'REBUILD')
    assert.equal(serverStatus('resized', null), 'VERIFY_RESIZE')
    assert.equal(serverStatus('resized', 'resize_reverting'), 'REVERT_RESIZE')
    assert.equal(serverStatus('building', 'scheduling'), 'BUILD')
    assert.equal(serverStatus('error', null), 'ERROR')
    assert.equal(serverStatus('nonsense', null), 'UNKNOWN')
    assert.deepEqual(statesFromStatus(['SHUTOFF']), { vmStates: ['stopped'], taskStates: undefined })
    assert.deepEqual(statesFromStatus(['reboot']), { vmStates: ['active'], taskStates: ['reboot_pending', 'reboot_started', 'rebooting'] })
    assert.deepEqual(statesFromStatus(['nope']), { vmStates: [], taskStates: [] })
  })
  test('host_status', () => {
    const now = Date.parse('2026-01-01T00:01:00Z')
    const svc = { forced_down: 0, disabled: 0, last_seen_at: '2026-01-01T00:00:30Z' } as never
    assert.equal(hostStatus(null, svc, now), '')
    assert.equal(hostStatus('h', undefined, now), '')
    assert.equal(hostStatus('h', svc, now), 'UP')
    assert.equal(hostStatus('h', { ...(svc as object), disabled: 1 } as never, now), 'MAINTENANCE')
    assert.equal(hostStatus('h', { ...(svc as object), forced_down: 1 } as never, now), 'DOWN')
    assert.equal(hostStatus('h', svc, now + 120_000), 'UNKNOWN')
  })
})
