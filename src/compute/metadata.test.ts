import { test } from 'node:test'
import assert from 'node:assert/strict'
import { type MetadataInstance, ec2Id, metadataAnswer } from './metadata.ts'

const inst: MetadataInstance = {
  uuid: '6f1a1c1e-1111-4a4a-9b9b-0123456789ab', name: 'web 1', hostname: 'web-1', project_id: 'p1',
  availability_zone: 'nova', launch_index: 0, reservation_id: 'r-abc', image_ref: 'img-1',
  key_name: 'k1', key_data: 'ssh-ed25519 AAAA me@host', user_data: Buffer.from('#cloud-config\n').toString('base64'),
  metadata: { role: 'web' }, flavor: { name: 'm1.small' }, nics: [{ mac: 'fa:16:3e:00:00:01', mode: 'user', ipv4: '169.254.0.15' }],
}
const body = (p: string, i = inst) => String(metadataAnswer(i, p).body)
const json = (p: string, i = inst) => JSON.parse(body(p, i))

test('OpenStack meta_data.json, network_data.json, vendor data and user_data', () => {
  const md = json('/openstack/latest/meta_data.json')
  assert.equal(md.uuid, inst.uuid)
  assert.equal(md.name, 'web 1')
  assert.equal(md.hostname, 'web-1.novalocal')
  assert.equal(md.availability_zone, 'nova')
  assert.equal(md.project_id, 'p1')
  assert.equal(md.launch_index, 0)
  assert.deepEqual(md.public_keys, { k1: 'ssh-ed25519 AAAA me@host' })
  assert.deepEqual(md.keys, [{ name: 'k1', type: 'ssh', data: 'ssh-ed25519 AAAA me@host' }])
  assert.deepEqual(md.meta, { role: 'web' })
  assert.deepEqual(md.devices, [])
  assert.equal(Buffer.from(md.random_seed, 'base64').length, 512)
  assert.deepEqual(json('/openstack/2018-08-27/meta_data.json').uuid, inst.uuid)
  const nd = json('/openstack/latest/network_data.json')
  assert.deepEqual(nd.links, [{ id: 'tap0', vif_id: 'nic0', type: 'vif', mtu: 1500, ethernet_mac_address: 'fa:16:3e:00:00:01' }])
  assert.deepEqual(nd.networks, [{ id: 'network0', type: 'ipv4_dhcp', link: 'tap0', network_id: 'user-0' }])
  assert.deepEqual(nd.services, [])
  assert.deepEqual(json('/openstack/latest/vendor_data.json'), {})
  assert.deepEqual(json('/openstack/latest/vendor_data2.json'), {})
  assert.equal(body('/openstack/latest/user_data'), '#cloud-config\n')
  assert.equal(metadataAnswer(inst, '/openstack/latest/meta_data.json').contentType, 'application/json')
})

test('version listings', () => {
  const root = body('/').split('\n')
  assert.equal(root[0], '1.0')
  assert.equal(root.at(-1), 'latest')
  const os = body('/openstack').split('\n')
  assert.ok(os.includes('2012-08-10') && os.at(-1) === 'latest')
  assert.deepEqual(body('/openstack/latest').split('\n').sort(),
    ['meta_data.json', 'network_data.json', 'password', 'user_data', 'vendor_data.json', 'vendor_data2.json'])
  assert.ok(!body('/openstack/latest', { ...inst, user_data: null }).includes('user_data'))
  assert.equal(body('/latest'), 'meta-data/\nuser-data')
  assert.equal(body('/latest', { ...inst, user_data: null }), 'meta-data/')
})

test('EC2 layout', () => {
  const list = body('/latest/meta-data/').split('\n')
  for (const k of ['ami-id', 'hostname', 'instance-id', 'local-hostname', 'placement/', 'public-keys/', 'local-ipv4', 'instance-type'])
    assert.ok(list.includes(k), k)
  assert.match(body('/latest/meta-data/instance-id'), /^i-[0-9a-f]{8}$/)
  assert.equal(body('/latest/meta-data/instance-id'), ec2Id('i', inst.uuid))
  assert.match(body('/latest/meta-data/ami-id'), /^ami-[0-9a-f]{8}$/)
  assert.equal(body('/latest/meta-data/hostname'), 'web-1.novalocal')
  assert.equal(body('/latest/meta-data/local-hostname'), 'web-1.novalocal')
  assert.equal(body('/latest/meta-data/placement/availability-zone'), 'nova')
  assert.equal(body('/latest/meta-data/placement/'), 'availability-zone')
  assert.equal(body('/latest/meta-data/public-keys/'), '0=k1')
  assert.equal(body('/latest/meta-data/public-keys/0/'), 'openssh-key')
  assert.equal(body('/latest/meta-data/public-keys/0/openssh-key'), 'ssh-ed25519 AAAA me@host')
  assert.equal(body('/2009-04-04/meta-data/instance-type'), 'm1.small')
  assert.equal(body('/latest/user-data'), '#cloud-config\n')
  assert.equal(body('/latest/meta-data/local-ipv4?x=1'), '169.254.0.15')
})

test('unknown paths and absent data are 404', () => {
  const none = { ...inst, user_data: null, key_name: null, key_data: null, nics: [] }
  for (const p of ['/nope', '/latest/user-data', '/openstack/latest/user_data', '/openstack/1999-01-01/meta_data.json',
    '/latest/meta-data/public-keys/', '/latest/meta-data/local-ipv4', '/latest/meta-data/hostname/x', '/openstack/latest/x']) {
    assert.equal(metadataAnswer(none, p).status, 404, p)
  }
  assert.deepEqual(json('/openstack/latest/meta_data.json', none).public_keys, {})
  assert.deepEqual(json('/openstack/latest/network_data.json', none), { links: [], networks: [], services: [] })
  assert.equal(json('/openstack/latest/meta_data.json', { ...inst, hostname: 'h' }).hostname, 'h.novalocal')
  assert.equal(JSON.parse(String(metadataAnswer(inst, '/openstack/latest/meta_data.json', { dhcpDomain: '' }).body)).hostname, 'web-1')
})
