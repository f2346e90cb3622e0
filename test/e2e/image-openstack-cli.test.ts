// End to end: `cumulo up` in a child process, its image service (Glance v2) driven by the real
// `openstack` CLI (Debian's python3-openstackclient): create with a file, list, show, set,
// save, share with another project which accepts, delete; bad input answered as Glance does.
import { createHash, randomBytes } from 'node:crypto'
import { readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { type CloudProcess, have, run, startCloudProcess } from '../support/cloud-process.ts'

const CI = process.env.CI === 'true'
const OFFSET = 15000
const hasOsc = await have('openstack')
if (!hasOsc && CI) throw new Error('openstack CLI (python3-openstackclient) is required in CI')

describe('images with the openstack CLI', { skip: !hasOsc && 'openstack CLI not installed (apt-get install python3-openstackclient)' }, () => {
  let cloud: CloudProcess
  let file: string
  const data = randomBytes(3 * 1024 * 1024 + 17)
  const md5 = createHash('md5').update(data).digest('hex')
  const osc = (...args: string[]) => run('openstack', args, cloud.env)
  const oscJson = async (...args: string[]) => {
    const r = await osc(...args, '-f', 'json')
    assert.equal(r.code, 0, `openstack ${args.join(' ')} failed: ${r.stderr}`)
    return JSON.parse(r.stdout)
  }

  before(async () => {
    cloud = await startCloudProcess({ portOffset: OFFSET })
    file = join(cloud.dataDir, 'upload.raw')
    writeFileSync(file, data)
  })
  after(async () => { await cloud?.destroy() })

  test('the catalog lists the image service and `cumulo up` prints it', async () => {
    const cat = await oscJson('catalog', 'list')
    const image = cat.find((s: { Type: string }) => s.Type === 'image')
    assert.ok(image, JSON.stringify(cat))
    assert.equal(image.Name, 'glance')
    assert.ok(JSON.stringify(image.Endpoints).includes(`http://127.0.0.1:${9292 + OFFSET}`))
    assert.match(cloud.output(), new RegExp(`image\\s+http://127\\.0\\.0\\.1:${9292 + OFFSET}`))
  })

  test('create --file, list, show, set, save, delete', async () => {
    const created = await oscJson('image', 'create', '--file', file, '--disk-format', 'qcow2', '--container-format', 'bare',
      '--property', 'os_distro=cirros', '--tag', 'e2e', '--min-ram', '64', 'e2e-image')
    assert.equal(created.name, 'e2e-image')
    const shown = await oscJson('image', 'show', 'e2e-image')
    assert.equal(shown.status, 'active')
    assert.equal(shown.size, data.length)
    assert.equal(shown.checksum, md5)
    assert.equal(shown.properties.os_hash_algo, 'sha512')
    assert.equal(shown.properties.os_distro, 'cirros')
    assert.deepEqual(shown.tags, ['e2e'])
    assert.equal(shown.min_ram, 64)
    const list = await oscJson('image', 'list')
    assert.ok(list.some((i: { Name: string; Status: string }) => i.Name === 'e2e-image' && i.Status === 'active'))

    const set = await osc('image', 'set', '--name', 'e2e-image-2', '--property', 'hw_disk_bus=virtio', '--tag', 'two',
      '--min-disk', '1', '--protected', 'e2e-image')
    assert.equal(set.code, 0, set.stderr)
    const updated = await oscJson('image', 'show', 'e2e-image-2')
    assert.equal(updated.properties.hw_disk_bus, 'virtio')
    assert.equal(updated.min_disk, 1)
    assert.equal(updated.protected, true)
    assert.deepEqual(updated.tags.sort(), ['e2e', 'two'])

    const out = join(cloud.dataDir, 'download.raw')
    const save = await osc('image', 'save', '--file', out, 'e2e-image-2')
    assert.equal(save.code, 0, save.stderr)
    assert.ok(readFileSync(out).equals(data), 'downloaded bytes equal the uploaded ones')
    rmSync(out)

    // Protected: the delete fails with Glance's 403 until it is unprotected.
    const denied = await osc('image', 'delete', 'e2e-image-2')
    assert.notEqual(denied.code, 0)
    assert.match(denied.stderr, /protected/i)
    assert.equal((await osc('image', 'set', '--unprotected', 'e2e-image-2')).code, 0)
    const del = await osc('image', 'delete', 'e2e-image-2')
    assert.equal(del.code, 0, del.stderr)
    assert.ok(!(await oscJson('image', 'list')).some((i: { Name: string }) => i.Name === 'e2e-image-2'))
  })

  test('share with another project: add project, the member accepts, lists, the owner removes it', async () => {
    const p = await oscJson('project', 'create', 'e2e-img-consumer')
    const user = await oscJson('user', 'create', '--password', 'pw-img-e2e', '--project', 'e2e-img-consumer', 'e2e-img-user')
    assert.equal((await osc('role', 'add', '--project', 'e2e-img-consumer', '--user', 'e2e-img-user', 'member')).code, 0)
    const img = await oscJson('image', 'create', '--file', file, '--disk-format', 'raw', '--container-format', 'bare',
      '--shared', 'e2e-shared')
    const added = await oscJson('image', 'add', 'project', img.id, p.id)
    assert.equal(added.status, 'pending')
    assert.equal(added.member_id, p.id)
    const members = await oscJson('image', 'member', 'list', img.id)
    assert.deepEqual(members.map((m: { 'Member ID': string }) => m['Member ID']), [p.id])

    const consumer = { ...process.env, OS_CLOUD: '', OS_CLIENT_CONFIG_FILE: '/nonexistent', OS_AUTH_URL: cloud.identityUrl,
      OS_IDENTITY_API_VERSION: '3', OS_USERNAME: 'e2e-img-user', OS_PASSWORD: 'pw-img-e2e', OS_PROJECT_NAME: 'e2e-img-consumer',
      OS_USER_DOMAIN_NAME: 'Default', OS_PROJECT_DOMAIN_NAME: 'Default' }
    const asConsumer = (...args: string[]) => run('openstack', args, consumer)
    const consumerList = async () => JSON.parse((await asConsumer('image', 'list', '-f', 'json')).stdout) as Array<{ ID: string }>
    assert.ok(!(await consumerList()).some((i) => i.ID === img.id), 'pending images are not listed')
    const accept = await asConsumer('image', 'set', '--accept', img.id)
    assert.equal(accept.code, 0, accept.stderr)
    assert.ok((await consumerList()).some((i) => i.ID === img.id), 'accepted images are listed')
    const got = join(cloud.dataDir, 'shared.raw')
    assert.equal((await asConsumer('image', 'save', '--file', got, img.id)).code, 0)
    assert.ok(readFileSync(got).equals(data))
    // The consumer cannot change or delete the image it was given.
    const change = await asConsumer('image', 'set', '--name', 'stolen', img.id)
    assert.notEqual(change.code, 0)
    assert.match(change.stderr, /403|Forbidden/)

    assert.equal((await osc('image', 'remove', 'project', img.id, p.id)).code, 0)
    const gone = await asConsumer('image', 'show', img.id)
    assert.notEqual(gone.code, 0)
    assert.equal((await osc('image', 'delete', img.id)).code, 0)
    await osc('user', 'delete', user.id)
    await osc('project', 'delete', p.id)
  })

  test('bad input is refused with Glance\'s errors and changes nothing', async () => {
    // (Without --file the CLI would read stdin; the tests always give it a file.)
    const small = join(cloud.dataDir, 'small.raw')
    writeFileSync(small, 'tiny image')
    const img = await oscJson('image', 'create', '--file', small, '--disk-format', 'raw', '--container-format', 'bare', 'e2e-small')
    const reserved = await osc('image', 'set', '--property', 'os_glance_import_task=x', '--name', 'renamed', img.id)
    assert.notEqual(reserved.code, 0)
    assert.match(reserved.stderr, /reserved/)
    const after = await oscJson('image', 'show', img.id)
    assert.equal(after.name, 'e2e-small')
    assert.equal(after.properties.os_glance_import_task, undefined)
    assert.equal(after.size, 10)
    const none = await osc('image', 'show', 'no-such-image')
    assert.notEqual(none.code, 0)
    assert.match(none.stderr, /No Image found|Could not find|not found/i)
    assert.equal((await osc('image', 'delete', img.id)).code, 0)
  })
})
