// End to end: `cumulo up` in a child process, its compute API (Nova v2.1: flavors, key pairs,
// limits, quotas) driven by the real `openstack` CLI (Debian's python3-openstackclient).
import { createPrivateKey } from 'node:crypto'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { type CloudProcess, have, run, startCloudProcess } from '../support/cloud-process.ts'

const CI = process.env.CI === 'true'
const OFFSET = 17000
const hasOsc = await have('openstack')
if (!hasOsc && CI) throw new Error('openstack CLI (python3-openstackclient) is required in CI')

const ED25519 = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE3FiC1h/0eR6NmiqvgyX91RRlEByqx/XH9jazykGC3s test@cumulo'

describe('compute with the openstack CLI', { skip: !hasOsc && 'openstack CLI not installed (apt-get install python3-openstackclient)' }, () => {
  let cloud: CloudProcess
  const osc = (...args: string[]) => run('openstack', args, cloud.env)
  const ok = async (...args: string[]) => {
    const r = await osc(...args)
    assert.equal(r.code, 0, `openstack ${args.join(' ')} failed: ${r.stderr}`)
    return r
  }
  const oscJson = async (...args: string[]) => JSON.parse((await ok(...args, '-f', 'json')).stdout)

  before(async () => { cloud = await startCloudProcess({ portOffset: OFFSET }) })
  after(async () => { await cloud?.destroy() })

  test('the catalog lists nova at /v2.1', async () => {
    const cat = await oscJson('catalog', 'list')
    const nova = cat.find((s: { Type: string }) => s.Type === 'compute')
    assert.ok(nova, JSON.stringify(cat))
    assert.equal(nova.Name, 'nova')
    assert.ok(JSON.stringify(nova.Endpoints).includes(`http://127.0.0.1:${8774 + OFFSET}/v2.1`))
  })

  test('flavor create, list, show, set --property, delete', async () => {
    const created = await oscJson('flavor', 'create', '--id', 'e2e-1', '--ram', '256', '--vcpus', '2', '--disk', '1',
      '--property', 'hw:cpu_policy=shared', 'e2e.tiny')
    assert.equal(created.name, 'e2e.tiny')
    assert.equal(created.ram, 256)
    const list = await oscJson('flavor', 'list')
    assert.ok(list.some((f: any) => f.ID === 'e2e-1' && f.Name === 'e2e.tiny' && f.VCPUs === 2), JSON.stringify(list))
    await ok('flavor', 'set', '--property', 'hw:mem_page_size=large', 'e2e.tiny')
    const shown = await oscJson('flavor', 'show', 'e2e.tiny')
    assert.equal(shown.id, 'e2e-1')
    assert.deepEqual(shown.properties, { 'hw:cpu_policy': 'shared', 'hw:mem_page_size': 'large' })
    await ok('flavor', 'delete', 'e2e.tiny')
    const gone = await osc('flavor', 'show', 'e2e-1')
    assert.notEqual(gone.code, 0)
    // Bad input: Nova's 400, reported by the CLI.
    const bad = await osc('flavor', 'create', '--ram', '-5', '--vcpus', '1', 'bad')
    assert.notEqual(bad.code, 0)
  })

  test('keypair create (generated and imported), list, delete', async () => {
    const keyFile = join(cloud.dataDir, 'gen.pem')
    const gen = await oscJson('keypair', 'create', '--private-key', keyFile, 'e2e-gen')
    assert.match(gen.fingerprint, /^([0-9a-f]{2}:){15}[0-9a-f]{2}$/)
    assert.equal(createPrivateKey(readFileSync(keyFile, 'utf8')).asymmetricKeyType, 'rsa')
    const pub = join(cloud.dataDir, 'imported.pub')
    writeFileSync(pub, ED25519 + '\n')
    const imp = await oscJson('keypair', 'create', '--public-key', pub, 'e2e-imp')
    assert.equal(imp.fingerprint, 'af:c8:47:21:96:11:a6:45:9a:27:ff:21:16:49:95:8d')
    const list = await oscJson('keypair', 'list')
    assert.deepEqual(list.map((k: any) => k.Name).sort(), ['e2e-gen', 'e2e-imp'])
    writeFileSync(pub, 'ssh-rsa not-a-key\n')
    assert.notEqual((await osc('keypair', 'create', '--public-key', pub, 'e2e-bad')).code, 0)
    await ok('keypair', 'delete', 'e2e-gen', 'e2e-imp')
    assert.deepEqual(await oscJson('keypair', 'list'), [])
  })

  test('limits show --absolute and quota show', async () => {
    const limits = await oscJson('limits', 'show', '--absolute')
    const byName = Object.fromEntries(limits.map((l: any) => [l.Name, l.Value]))
    assert.equal(byName.maxTotalInstances, 10)
    assert.equal(byName.maxTotalCores, 20)
    assert.equal(byName.totalInstancesUsed, 0)
    const quota = await oscJson('quota', 'show')
    const flat = JSON.stringify(quota)
    assert.match(flat, /"?instances"?/, flat)
    await ok('quota', 'set', '--instances', '33', 'admin')
    const after = await oscJson('limits', 'show', '--absolute')
    assert.equal(after.find((l: any) => l.Name === 'maxTotalInstances').Value, 33)
  })
})
