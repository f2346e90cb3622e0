import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { QuotaService } from '../quotas.ts'
import { canonicalIPv6 } from '../server-create.ts'
import { type ComputeHarness, computeHarness } from '../testing.ts'

// POST /servers validation and rows, show/update/delete (local and through the agent), views
// at the microversions Tempest checks, project scoping and quotas.

type User = { projectId: string; userId: string; token: string }

const COMMON = ['id', 'name', 'status', 'image', 'flavor', 'user_id', 'tenant_id', 'created', 'updated', 'metadata', 'links',
  'addresses', 'hostId', 'OS-DCF:diskConfig', 'accessIPv4', 'accessIPv6']
const DETAIL_21 = [...COMMON, 'key_name', 'security_groups', 'OS-SRV-USG:launched_at', 'OS-SRV-USG:terminated_at',
  'OS-EXT-AZ:availability_zone', 'OS-EXT-STS:task_state', 'OS-EXT-STS:vm_state', 'OS-EXT-STS:power_state',
  'os-extended-volumes:volumes_attached', 'config_drive']
const ADMIN_21 = ['OS-EXT-SRV-ATTR:host', 'OS-EXT-SRV-ATTR:instance_name', 'OS-EXT-SRV-ATTR:hypervisor_hostname']
const ADMIN_23 = [...ADMIN_21, 'OS-EXT-SRV-ATTR:reservation_id', 'OS-EXT-SRV-ATTR:launch_index', 'OS-EXT-SRV-ATTR:kernel_id',
  'OS-EXT-SRV-ATTR:ramdisk_id', 'OS-EXT-SRV-ATTR:hostname', 'OS-EXT-SRV-ATTR:root_device_name', 'OS-EXT-SRV-ATTR:user_data']
const sorted = (a: string[]) => [...a].sort()

describe('servers API', () => {
  let h: ComputeHarness
  let alice: User
  let bob: User
  let image: string
  const flavor = 'f-small'
  before(async () => {
    h = await computeHarness()
    // Nothing schedules here: servers stay in BUILD unless a test moves them.
    await h.compute.conductor.stop()
    alice = await h.projectUser('member')
    bob = await h.projectUser('member')
    image = await h.makeImage()
    let r = await h.json('POST', '/v2.1/flavors', { body: { flavor: { name: 'small', id: flavor, ram: 512, vcpus: 2, disk: 1 } } })
    assert.equal(r.status, 200, JSON.stringify(r.body))
    r = await h.json('POST', '/v2.1/flavors/f-small/os-extra_specs', { body: { extra_specs: { 'hw:cpu_policy': 'shared' } } })
    assert.equal(r.status, 200, JSON.stringify(r.body))
    r = await h.json('POST', '/v2.1/flavors', { body: { flavor: { name: 'private', id: 'f-priv', ram: 512, vcpus: 1, disk: 1, 'os-flavor-access:is_public': false } } })
    assert.equal(r.status, 200, JSON.stringify(r.body))
    r = await h.json('POST', '/v2.1/flavors', { body: { flavor: { name: 'tiny-ram', id: 'f-tiny', ram: 64, vcpus: 1, disk: 1 } } })
    assert.equal(r.status, 200)
    r = await h.json('POST', '/v2.1/os-keypairs', { token: alice.token, body: { keypair: { name: 'k1' } } })
    assert.equal(r.status, 200)
  })
  after(async () => { await h.close() })

  const db = () => h.compute.ctx.db
  const count = async (project: string) =>
    Number((await db().selectFrom('instances').select((eb) => eb.fn.countAll().as('n')).where('project_id', '=', project).executeTakeFirst())!.n)
  async function create(u: User, server: Record<string, unknown>, o: { version?: string; hints?: unknown } = {}) {
    return h.json('POST', '/v2.1/servers', {
      token: u.token, version: o.version,
      body: { server: { name: 's', imageRef: image, flavorRef: flavor, ...server }, ...(o.hints ? { 'os:scheduler_hints': o.hints } : {}) },
    })
  }

  test('create: 202, Location, the answer Tempest expects, and the rows', async () => {
    const r = await create(alice, { name: 'web', key_name: 'k1', metadata: { a: '1' }, user_data: Buffer.from('#!/bin/sh\necho hi').toString('base64'), accessIPv4: '10.0.0.1' })
    assert.equal(r.status, 202, JSON.stringify(r.body))
    const s = r.body.server
    assert.deepEqual(sorted(Object.keys(s)), sorted(['id', 'links', 'OS-DCF:diskConfig', 'security_groups', 'adminPass']))
    assert.deepEqual(s.security_groups, [{ name: 'default' }])
    assert.equal(s['OS-DCF:diskConfig'], 'MANUAL')
    assert.match(s.adminPass, /^\S{12}$/)
    assert.match(String(r.headers.location), new RegExp(`/v2.1/servers/${s.id}$`))
    assert.match(String(r.headers['x-openstack-request-id']), /^req-[0-9a-f-]{36}$/)
    assert.equal(r.headers['x-compute-request-id'], r.headers['x-openstack-request-id'])
    const row = await db().selectFrom('instances').selectAll().where('uuid', '=', s.id).executeTakeFirstOrThrow()
    assert.equal(row.vm_state, 'building')
    assert.equal(row.task_state, 'scheduling')
    assert.equal(row.host, null)
    assert.equal(row.desired_power, 'running')
    assert.equal(Number(row.desired_gen), 1)
    assert.equal(Number(row.applied_gen), 0)
    assert.equal(row.project_id, alice.projectId)
    assert.equal(row.hostname, 'web')
    assert.equal(row.requested_networks, '"auto"')
    assert.match(row.key_data!, /^ssh-rsa /)
    assert.equal(row.display_description, 'web')
    const f = JSON.parse(row.flavor)
    assert.deepEqual({ id: f.flavorid, vcpus: f.vcpus, ram: f.memory_mb, specs: f.extra_specs },
      { id: flavor, vcpus: 2, ram: 512, specs: { 'hw:cpu_policy': 'shared' } })
    const sys = JSON.parse(row.system_metadata)
    assert.equal(sys.image_disk_format, 'qcow2')
    assert.equal(sys.image_container_format, 'bare')
    assert.equal(sys.image_base_image_ref, image)
    assert.equal(sys.image_min_ram, '0')
    assert.ok(sys.image_checksum)
    assert.deepEqual(JSON.parse(row.block_device_mapping)[0], { source_type: 'image', destination_type: 'local', boot_index: 0, uuid: image, delete_on_termination: true })
    const meta = await db().selectFrom('instance_metadata').selectAll().where('uuid', '=', s.id).execute()
    assert.deepEqual(meta.map((m) => [m.key, m.value]), [['a', '1']])
    const actions = await db().selectFrom('instance_actions').selectAll().where('uuid', '=', s.id).execute()
    assert.equal(actions.length, 1)
    assert.equal(actions[0]!.action, 'create')
    assert.equal(actions[0]!.request_id, r.headers['x-openstack-request-id'])
  })

  test('create: every bad input is 400 (or 403) and leaves no row', async () => {
    const u = await h.projectUser('member')
    const privImage = await h.makeImage({ visibility: 'private' })
    const bigImage = await h.makeImage({ minRam: 1024 })
    const bigDisk = await h.makeImage({ minDisk: 5 })
    const group = '8e1d4a9c-0000-4000-8000-000000000001'
    const cases: Array<[Record<string, unknown>, number, RegExp, { version?: string; hints?: unknown }?]> = [
      [{ imageRef: '5e1d4a9c-0000-4000-8000-000000000000' }, 400, /^Can not find requested image$/],
      [{ imageRef: privImage }, 400, /^Can not find requested image$/],
      [{ imageRef: 'not-a-uuid' }, 400, /imageRef/],
      [{ imageRef: bigImage, flavorRef: 'f-tiny' }, 400, /memory is too small/],
      [{ imageRef: bigDisk }, 400, /minimum size/],
      [{ flavorRef: 'nope' }, 400, /^Flavor nope could not be found\.$/],
      [{ flavorRef: 'f-priv' }, 400, /^Flavor f-priv could not be found\.$/],
      [{ key_name: 'k1' }, 400, /^Invalid key_name provided\.$/],
      [{ user_data: 'not base64!' }, 400, /base64/],
      [{ user_data: 'A'.repeat(65536) }, 400, /user_data/],
      [{ metadata: { ['k'.repeat(256)]: 'v' } }, 400, /metadata/],
      [{ metadata: { k: 'v'.repeat(256) } }, 400, /metadata/],
      [{ metadata: Object.fromEntries(Array.from({ length: 129 }, (_, i) => [`k${i}`, 'v'])) }, 403, /Maximum number of metadata items exceeds 128/],
      [{ availability_zone: 'elsewhere' }, 400, /availability zone is not available/],
      [{ availability_zone: 'nova:host1' }, 403, /forced_host/],
      [{ networks: [{ uuid: '9e1d4a9c-0000-4000-8000-000000000000' }] }, 400, /^Network 9e1d4a9c-0000-4000-8000-000000000000 could not be found\.$/],
      [{ networks: 'auto' }, 400, /networks/],
      [{ networks: [{ uuid: '9e1d4a9c-0000-4000-8000-000000000000' }] }, 400, /could not be found/, { version: '2.37' }],
      [{}, 400, /networks/, { version: '2.37' }],
      [{ block_device_mapping_v2: [{ source_type: 'volume', destination_type: 'volume', uuid: '9e1d4a9c-0000-4000-8000-000000000000', boot_index: 0 }] }, 400, /block storage service/],
      [{ block_device_mapping_v2: [{ source_type: 'image', destination_type: 'volume', uuid: image, boot_index: 0, volume_size: 1 }] }, 400, /Cinder/],
      [{ block_device_mapping_v2: [{ source_type: 'blank', destination_type: 'local', boot_index: -1, volume_size: 1 }] }, 400, /ephemeral and swap disks come from the flavor/],
      [{ block_device_mapping: [{ volume_id: '9e1d4a9c-0000-4000-8000-000000000000' }] }, 400, /block storage service/],
      [{ min_count: 3, max_count: 2 }, 400, /min_count must be <= max_count/],
      [{ min_count: 0 }, 400, /min_count/],
      [{ name: '' }, 400, /name/],
      [{ name: ' lead' }, 400, /name/],
      [{ accessIPv4: '300.1.1.1' }, 400, /ipv4/],
      [{ bogus: 1 }, 400, /Additional properties are not allowed \('bogus' was unexpected\)/],
      [{ description: 'x' }, 400, /description/],
      [{ tags: ['a'], networks: 'none' }, 400, /tags/, { version: '2.51' }],
      [{ tags: ['a/b'], networks: 'none' }, 400, /tags/, { version: '2.52' }],
      [{}, 400, /^Instance group 8e1d4a9c-0000-4000-8000-000000000001 could not be found\.$/, { hints: { group } }],
      [{ security_groups: [{ name: 'web' }] }, 400, /Security group web not found/],
    ]
    for (const [server, status, message, o] of cases) {
      const r = await create(u, server, o)
      assert.equal(r.status, status, `${JSON.stringify(server)} → ${r.status} ${JSON.stringify(r.body)}`)
      const err = r.body.badRequest ?? r.body.forbidden
      assert.ok(err, JSON.stringify(r.body))
      assert.match(err.message, message, JSON.stringify(server))
    }
    assert.equal(await count(u.projectId), 0)
    const actions = await db().selectFrom('instance_actions').select('id').where('project_id', '=', u.projectId).execute()
    assert.equal(actions.length, 0)
  })

  test('networks auto/none from 2.37, bdm image/local, description 2.19, tags 2.52, config drive', async () => {
    let r = await create(alice, { name: 'n', networks: 'none', description: 'about', tags: ['x', 'y'], config_drive: true,
      block_device_mapping_v2: [{ source_type: 'image', destination_type: 'local', uuid: image, boot_index: 0 }] }, { version: '2.52' })
    assert.equal(r.status, 202, JSON.stringify(r.body))
    const row = await db().selectFrom('instances').selectAll().where('uuid', '=', r.body.server.id).executeTakeFirstOrThrow()
    assert.equal(row.requested_networks, '"none"')
    assert.equal(row.display_description, 'about')
    assert.equal(row.config_drive, 'True')
    r = await h.json('GET', `/v2.1/servers/${row.uuid}`, { token: alice.token, version: '2.52' })
    assert.deepEqual(r.body.server.tags, ['x', 'y'])
    assert.equal(r.body.server.description, 'about')
    assert.equal(r.body.server.config_drive, 'True')
    // A private flavor the project was given access to.
    r = await h.json('POST', '/v2.1/flavors/f-priv/action', { body: { addTenantAccess: { tenant: alice.projectId } } })
    assert.equal(r.status, 200, JSON.stringify(r.body))
    r = await create(alice, { name: 'priv', flavorRef: 'f-priv' })
    assert.equal(r.status, 202, JSON.stringify(r.body))
    // A flavorRef may be a link to the flavor.
    r = await create(alice, { name: 'link', flavorRef: `http://localhost/v2.1/flavors/${flavor}` })
    assert.equal(r.status, 202, JSON.stringify(r.body))
    // imageRef may be left out when the bdm names the image.
    r = await create(alice, { imageRef: undefined, block_device_mapping_v2: [{ source_type: 'image', destination_type: 'local', uuid: image, boot_index: 0 }] })
    assert.equal(r.status, 202, JSON.stringify(r.body))
  })

  test('multi-create: names name-N, one reservation id, return_reservation_id, server group membership', async () => {
    const u = await h.projectUser('member')
    const g = await db().insertInto('server_groups').values({ uuid: '7e1d4a9c-0000-4000-8000-000000000007', name: 'g', project_id: u.projectId,
      user_id: u.userId, policy: 'anti-affinity', rules: '{}', created_at: new Date().toISOString() }).execute()
    void g
    let r = await create(u, { name: 'multi', min_count: 2, max_count: 3, return_reservation_id: true }, { hints: { group: '7e1d4a9c-0000-4000-8000-000000000007' } })
    assert.equal(r.status, 202, JSON.stringify(r.body))
    assert.deepEqual(Object.keys(r.body), ['reservation_id'])
    const rows = await db().selectFrom('instances').selectAll().where('reservation_id', '=', r.body.reservation_id).orderBy('launch_index').execute()
    assert.deepEqual(rows.map((x) => [x.display_name, x.hostname, Number(x.launch_index)]), [['multi-1', 'multi-1', 0], ['multi-2', 'multi-2', 1], ['multi-3', 'multi-3', 2]])
    const members = await db().selectFrom('server_group_members').selectAll().where('group_uuid', '=', '7e1d4a9c-0000-4000-8000-000000000007').execute()
    assert.equal(members.length, 3)
    r = await h.json('GET', `/v2.1/servers?reservation_id=${rows[0]!.reservation_id}`, { token: u.token })
    assert.equal(r.body.servers.length, 3)
    // Without return_reservation_id the first server is the answer.
    r = await create(u, { name: 'pair', max_count: 2 })
    assert.equal(r.status, 202)
    assert.ok(r.body.server.id)
  })

  test('quota: instances/cores beyond the limit → 403 with Nova\'s message; max_count shrinks to what fits', async () => {
    const u = await h.projectUser('member')
    let r = await h.json('PUT', `/v2.1/os-quota-sets/${u.projectId}`, { body: { quota_set: { instances: 2, cores: 20 } } })
    assert.equal(r.status, 200, JSON.stringify(r.body))
    r = await create(u, { name: 'q', min_count: 1, max_count: 5 })
    assert.equal(r.status, 202)
    assert.equal(await count(u.projectId), 2)
    r = await create(u, { name: 'q3' })
    assert.equal(r.status, 403)
    assert.equal(r.body.forbidden.message, 'Quota exceeded for instances: Requested 1, but already used 2 of 2 instances')
    assert.equal(await count(u.projectId), 2)
    r = await h.json('GET', '/v2.1/limits', { token: u.token })
    assert.equal(r.body.limits.absolute.totalInstancesUsed, 2)
    assert.equal(r.body.limits.absolute.totalCoresUsed, 4)
    assert.equal(r.body.limits.absolute.totalRAMUsed, 1024)
    r = await h.json('GET', `/v2.1/os-quota-sets/${u.projectId}/detail`, { token: u.token })
    assert.deepEqual(r.body.quota_set.instances, { in_use: 2, limit: 2, reserved: 0 })
    assert.deepEqual(r.body.quota_set.cores, { in_use: 4, limit: 20, reserved: 0 })
    r = await h.json('PUT', `/v2.1/os-quota-sets/${u.projectId}`, { body: { quota_set: { instances: 10, cores: 5 } } })
    assert.equal(r.status, 200, JSON.stringify(r.body))
    r = await create(u, { name: 'q4' })
    assert.equal(r.status, 403)
    assert.equal(r.body.forbidden.message, 'Quota exceeded for cores: Requested 2, but already used 4 of 5 cores')
    // The check resize uses: the flavor difference.
    const quotas = new QuotaService(h.compute.ctx)
    await quotas.checkServerDeltas(u.projectId, { cores: 1, ram: 100 })
    await quotas.checkServerDeltas(u.projectId, { cores: -2 })
    await assert.rejects(quotas.checkServerDeltas(u.projectId, { cores: 2, ram: 1 }),
      { message: 'Quota exceeded for cores: Requested 2, but already used 4 of 5 cores' })
  })

  test('quota: concurrent creates never end above the limit (Nova\'s recheck)', async () => {
    const u = await h.projectUser('member')
    let r = await h.json('PUT', `/v2.1/os-quota-sets/${u.projectId}`, { body: { quota_set: { instances: 2 } } })
    assert.equal(r.status, 200)
    const answers = await Promise.all(Array.from({ length: 6 }, (_, i) => create(u, { name: `race${i}` })))
    const ok = answers.filter((a) => a.status === 202).length
    assert.ok(answers.every((a) => a.status === 202 || a.status === 403), JSON.stringify(answers.map((a) => a.status)))
    const n = await count(u.projectId)
    assert.ok(n <= 2 && n === ok, `${n} servers, ${ok} accepted`)
    r = await h.json('GET', '/v2.1/servers', { token: u.token })
    assert.equal(r.body.servers.length, n)
  })

  test('show: own project only (404 for others), admins see all', async () => {
    const r0 = await create(alice, { name: 'mine' })
    const id = r0.body.server.id
    let r = await h.json('GET', `/v2.1/servers/${id}`, { token: bob.token })
    assert.equal(r.status, 404)
    assert.equal(r.body.itemNotFound.message, `Instance ${id} could not be found.`)
    r = await h.json('PUT', `/v2.1/servers/${id}`, { token: bob.token, body: { server: { name: 'x' } } })
    assert.equal(r.status, 404)
    r = await h.json('DELETE', `/v2.1/servers/${id}`, { token: bob.token })
    assert.equal(r.status, 404)
    r = await h.json('GET', `/v2.1/servers/${id}`)
    assert.equal(r.status, 200)
    r = await h.json('GET', '/v2.1/servers/00000000-0000-4000-8000-00000000dead', { token: alice.token })
    assert.equal(r.status, 404)
  })

  test('views: field sets at 2.1, 2.47 and 2.73 for admins and members', async () => {
    const r0 = await create(alice, { name: 'view', key_name: 'k1', metadata: { m: 'v' } })
    const id = r0.body.server.id
    let r = await h.json('GET', `/v2.1/servers/${id}`, { token: alice.token })
    assert.equal(r.status, 200)
    let s = r.body.server
    assert.deepEqual(sorted(Object.keys(s)), sorted([...DETAIL_21, 'progress']))
    assert.equal(s.status, 'BUILD')
    assert.deepEqual(Object.keys(s.flavor).sort(), ['id', 'links'])
    assert.equal(s.flavor.id, flavor)
    assert.equal(s.image.id, image)
    assert.deepEqual(s.metadata, { m: 'v' })
    assert.equal(s.key_name, 'k1')
    assert.equal(s.hostId, '')
    assert.equal(s['OS-EXT-STS:vm_state'], 'building')
    assert.equal(s['OS-EXT-STS:task_state'], 'scheduling')
    assert.equal(s['OS-EXT-STS:power_state'], 0)
    assert.match(s.created, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/)
    assert.equal(s.tenant_id, alice.projectId)
    r = await h.json('GET', `/v2.1/servers/${id}`)
    assert.deepEqual(sorted(Object.keys(r.body.server)), sorted([...DETAIL_21, ...ADMIN_21, 'progress']))
    r = await h.json('GET', `/v2.1/servers/${id}`, { version: '2.47' })
    s = r.body.server
    assert.deepEqual(sorted(Object.keys(s)), sorted([...DETAIL_21, ...ADMIN_23, 'progress', 'locked', 'host_status', 'description', 'tags']))
    assert.deepEqual(s.flavor, { vcpus: 2, ram: 512, disk: 1, ephemeral: 0, swap: 0, original_name: 'small', extra_specs: { 'hw:cpu_policy': 'shared' } })
    assert.equal(s.host_status, '')
    assert.equal(s.locked, false)
    // Created at 2.1: Nova copies the name into the description.
    assert.equal(s.description, 'view')
    r = await h.json('GET', `/v2.1/servers/${id}`, { version: '2.73', token: alice.token })
    s = r.body.server
    assert.deepEqual(sorted(Object.keys(s)), sorted([...DETAIL_21, 'progress', 'locked', 'description', 'tags',
      'trusted_image_certificates', 'server_groups', 'locked_reason']))
    assert.deepEqual(s.server_groups, [])
    assert.equal(s.trusted_image_certificates, null)
    assert.equal(s.locked_reason, null)
    // Lists at 2.73 show no server_groups; update answers the short view before 2.75.
    r = await h.json('GET', '/v2.1/servers/detail', { version: '2.73', token: alice.token })
    assert.ok(r.body.servers.every((x: any) => !('server_groups' in x) && 'locked_reason' in x))
    r = await h.json('PUT', `/v2.1/servers/${id}`, { token: alice.token, version: '2.73', body: { server: { name: 'renamed', description: 'd' } } })
    assert.equal(r.status, 200, JSON.stringify(r.body))
    assert.deepEqual(sorted(Object.keys(r.body.server)), sorted([...COMMON, 'progress', 'locked', 'description', 'tags',
      'trusted_image_certificates', 'server_groups', 'locked_reason']))
    r = await h.json('PUT', `/v2.1/servers/${id}`, { token: alice.token, version: '2.75', body: { server: { name: 'renamed' } } })
    assert.ok('OS-EXT-STS:vm_state' in r.body.server)
  })

  test('ERROR view: fault with details for admins only; hostId and host_status with a host', async () => {
    const r0 = await create(alice, { name: 'err' })
    const id = r0.body.server.id
    await db().updateTable('instances').set({ vm_state: 'error', task_state: null, host: 'h1', node: 'h1' }).where('uuid', '=', id).execute()
    await db().insertInto('instance_faults').values({ uuid: id, code: 500, message: 'No valid host was found. ', details: 'trace', host: null, created_at: new Date().toISOString() } as never).execute()
    let r = await h.json('GET', `/v2.1/servers/${id}`, { token: alice.token })
    assert.equal(r.body.server.status, 'ERROR')
    assert.deepEqual(Object.keys(r.body.server.fault).sort(), ['code', 'created', 'message'])
    assert.equal(r.body.server.hostId.length, 56)
    assert.equal('progress' in r.body.server, false)
    r = await h.json('GET', `/v2.1/servers/${id}`, { version: '2.16' })
    assert.equal(r.body.server.fault.details, 'trace')
    // No compute service registered for h1.
    assert.equal(r.body.server.host_status, '')
    assert.equal(r.body.server['OS-EXT-SRV-ATTR:host'], 'h1')
  })

  test('the conductor places what create inserted: with no host, ERROR with "No valid host" shown as the fault', async () => {
    const u = await h.projectUser('member')
    const id = (await create(u, { name: 'nohost' })).body.server.id
    await h.compute.conductor.runOnce()
    const r = await h.json('GET', `/v2.1/servers/${id}`, { token: u.token })
    assert.equal(r.body.server.status, 'ERROR')
    assert.match(r.body.server.fault.message, /No valid host was found/)
    assert.equal(r.body.server.fault.code, 500)
    assert.equal('details' in r.body.server.fault, false)
    // An ERROR server without a host is deleted at once.
    assert.equal((await h.json('DELETE', `/v2.1/servers/${id}`, { token: u.token })).status, 204)
    assert.equal((await h.json('GET', `/v2.1/servers/${id}`, { token: u.token })).status, 404)
  })

  test('accessIPv6 is kept in netaddr\'s canonical form', () => {
    assert.equal(canonicalIPv6('0000:0000:0000:0000:0000:babe:220.12.22.2'), '::babe:dc0c:1602')
    assert.equal(canonicalIPv6('2001:DB8:0:0:0:0:0:1'), '2001:db8::1')
    assert.equal(canonicalIPv6('::1'), '::1')
    assert.equal(canonicalIPv6('::'), '::')
    assert.equal(canonicalIPv6('1:0:2:0:0:3:0:0'), '1:0:2::3:0:0')
    assert.equal(canonicalIPv6('2001:db8:1:1:1:1:1:1'), '2001:db8:1:1:1:1:1:1')
    assert.equal(canonicalIPv6('::FFFF:1.2.3.4'), '::ffff:1.2.3.4')
    assert.equal(canonicalIPv6('fe80::0001'), 'fe80::1')
  })

  test('update: name, description, access IPs; validation', async () => {
    const id = (await create(alice, { name: 'u' })).body.server.id
    let r = await h.json('PUT', `/v2.1/servers/${id}`, { token: alice.token, version: '2.19', body: { server: { name: 'u2', description: 'dd', accessIPv4: '1.2.3.4', accessIPv6: '::1' } } })
    assert.equal(r.status, 200, JSON.stringify(r.body))
    assert.equal(r.body.server.name, 'u2')
    assert.equal(r.body.server.description, 'dd')
    assert.equal(r.body.server.accessIPv4, '1.2.3.4')
    assert.equal(r.body.server.accessIPv6, '::1')
    r = await h.json('PUT', `/v2.1/servers/${id}`, { token: alice.token, body: { server: { description: 'dd' } } })
    assert.equal(r.status, 400)
    r = await h.json('PUT', `/v2.1/servers/${id}`, { token: alice.token, body: { server: { accessIPv4: 'x' } } })
    assert.equal(r.status, 400)
    r = await h.json('PUT', `/v2.1/servers/${id}`, { token: alice.token, body: { server: { name: '' } } })
    assert.equal(r.status, 400)
  })

  test('delete: local without a host or with a down host; through the agent otherwise; 409 when locked', async () => {
    // A project of its own: the other tests use up alice's quota.
    const owner = await h.projectUser('member')
    // No host: deleted at once.
    const a = (await create(owner, { name: 'd1' })).body.server.id
    let r = await h.json('DELETE', `/v2.1/servers/${a}`, { token: owner.token })
    assert.equal(r.status, 204)
    let row = await db().selectFrom('instances').selectAll().where('uuid', '=', a).executeTakeFirstOrThrow()
    assert.equal(Number(row.deleted), 1)
    assert.equal(row.vm_state, 'deleted')
    assert.ok(row.deleted_at && row.terminated_at)
    assert.equal((await h.json('GET', `/v2.1/servers/${a}`, { token: owner.token })).status, 404)
    const acts = await db().selectFrom('instance_actions').select('action').where('uuid', '=', a).orderBy('id').execute()
    assert.deepEqual(acts.map((x) => x.action), ['create', 'delete'])

    // A live host: the agent deletes (desired_power deleted, task_state deleting, host revision moves).
    const now = new Date().toISOString()
    await db().insertInto('services').values({ uuid: 'svc-live', host: 'live', binary: 'nova-compute', zone: 'nova', disabled: 0,
      disabled_reason: null, forced_down: 0, last_seen_at: now, created_at: now, updated_at: null } as never).execute()
    await db().insertInto('services').values({ uuid: 'svc-dead', host: 'dead', binary: 'nova-compute', zone: 'nova', disabled: 0,
      disabled_reason: null, forced_down: 0, last_seen_at: new Date(Date.now() - 120_000).toISOString(), created_at: now, updated_at: null } as never).execute()
    const b = (await create(owner, { name: 'd2' })).body.server.id
    await db().updateTable('instances').set({ host: 'live', node: 'live', vm_state: 'active', task_state: null }).where('uuid', '=', b).execute()
    r = await h.json('DELETE', `/v2.1/servers/${b}`, { token: owner.token })
    assert.equal(r.status, 204)
    row = await db().selectFrom('instances').selectAll().where('uuid', '=', b).executeTakeFirstOrThrow()
    assert.equal(Number(row.deleted), 0)
    assert.equal(row.desired_power, 'deleted')
    assert.equal(row.task_state, 'deleting')
    assert.equal(Number(row.desired_gen), 2)
    const rev = await db().selectFrom('host_revisions').select('revision').where('host', '=', 'live').executeTakeFirstOrThrow()
    assert.ok(Number(rev.revision) >= 1)
    r = await h.json('GET', `/v2.1/servers/${b}`, { token: owner.token })
    assert.equal(r.body.server.status, 'ACTIVE')
    assert.equal(r.body.server['OS-EXT-STS:task_state'], 'deleting')

    // A host down for more than 60 s: local delete, allocations released.
    const c = (await create(owner, { name: 'd3' })).body.server.id
    await db().updateTable('instances').set({ host: 'dead', node: 'dead', vm_state: 'active', task_state: null }).where('uuid', '=', c).execute()
    await db().insertInto('resource_providers').values({ uuid: 'rp-dead', name: 'dead', generation: 1, created_at: now, updated_at: null }).execute()
    await db().insertInto('consumers').values({ uuid: c, project_id: owner.projectId, user_id: owner.userId, generation: 1 }).execute()
    await db().insertInto('allocations').values({ consumer_uuid: c, rp_uuid: 'rp-dead', resource_class: 'VCPU', used: 2 }).execute()
    r = await h.json('DELETE', `/v2.1/servers/${c}`, { token: owner.token })
    assert.equal(r.status, 204)
    row = await db().selectFrom('instances').selectAll().where('uuid', '=', c).executeTakeFirstOrThrow()
    assert.equal(Number(row.deleted), 1)
    assert.equal((await db().selectFrom('allocations').selectAll().where('consumer_uuid', '=', c).execute()).length, 0)
    assert.equal((await db().selectFrom('consumers').selectAll().where('uuid', '=', c).execute()).length, 0)

    // Locked: 409 for the owner, an admin may delete.
    const d = (await create(owner, { name: 'd4' })).body.server.id
    await db().updateTable('instances').set({ locked: 1, locked_by: 'admin' }).where('uuid', '=', d).execute()
    r = await h.json('DELETE', `/v2.1/servers/${d}`, { token: owner.token })
    assert.equal(r.status, 409)
    assert.equal(r.body.conflictingRequest.message, `Instance ${d} is locked`)
    r = await h.json('DELETE', `/v2.1/servers/${d}`)
    assert.equal(r.status, 204)
  })

  test('a reader may show but not create; policy names Nova\'s rule', async () => {
    const reader = await h.projectUser('reader')
    const r = await create(reader, { name: 'no' })
    assert.equal(r.status, 403)
    assert.match(r.body.forbidden.message, /os_compute_api:servers:create/)
  })
})
