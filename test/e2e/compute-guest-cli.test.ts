// End to end with a real guest: `cumulo up` (qemu driver) in a child process, driven by the real
// `openstack` CLI as a newcomer would: image create from the test guest's disk, flavor and key
// pair create, `server create --wait` of a qemu guest that prints its ready marker in
// `console log show`, stop/start/reboot, a snapshot booted as a second server, delete — and no
// qemu process or instance file left behind.
import { execFile } from 'node:child_process'
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { promisify } from 'node:util'
import assert from 'node:assert/strict'
import { type CloudProcess, have, run, startCloudProcess } from '../support/cloud-process.ts'

const OFFSET = 19000
const CI = process.env.CI === 'true'
const REPO = resolve(import.meta.dirname, '..', '..')
const GUEST_DIR = join(tmpdir(), 'cumulo-test-guest')
const ED25519 = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE3FiC1h/0eR6NmiqvgyX91RRlEByqx/XH9jazykGC3s e2e@cumulo'

const tools = await Promise.all(['openstack', 'qemu-system-x86_64', 'qemu-img'].map(have))
const missing = ['openstack', 'qemu-system-x86_64', 'qemu-img'].filter((_, i) => !tools[i])
if (missing.length && CI) throw new Error(`CI needs ${missing.join(', ')} (python3-openstackclient, qemu-system-x86, qemu-utils)`)

/** Pids of qemu processes whose command line mentions `needle`. */
function qemuPids(needle: string): number[] {
  const pids: number[] = []
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue
    let cmd = ''
    try { cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8') } catch { continue }
    if (cmd.includes('qemu-system') && cmd.includes(needle)) pids.push(Number(p))
  }
  return pids
}

describe('servers with a real qemu guest and the openstack CLI', { skip: missing.length > 0 && `needs ${missing.join(', ')}` }, () => {
  let cloud: CloudProcess
  const osc = (...args: string[]) => run('openstack', args, cloud.env, 240_000)
  const ok = async (...args: string[]) => {
    const r = await osc(...args)
    assert.equal(r.code, 0, `openstack ${args.join(' ')} failed: ${r.stderr}`)
    return r
  }
  const oscJson = async (...args: string[]) => JSON.parse((await ok(...args, '-f', 'json')).stdout)
  /** Polls `console log show` until `count` ready markers are there. */
  const waitForMarker = async (server: string, count = 1, ms = 150_000) => {
    const deadline = Date.now() + ms
    let log = ''
    while (Date.now() < deadline) {
      const r = await osc('console', 'log', 'show', server)
      log = r.stdout
      if ((log.match(/cumulo-guest ready/g) ?? []).length >= count) return log
      await new Promise((r) => setTimeout(r, 2000))
    }
    assert.fail(`no ${count} ready marker(s) on ${server}'s console:\n${log.slice(-2000)}`)
  }
  const waitStatus = async (server: string, status: string, ms = 120_000) => {
    const deadline = Date.now() + ms
    let s: any
    while (Date.now() < deadline) {
      s = await oscJson('server', 'show', server)
      if (s.status === status) return s
      if (s.status === 'ERROR') assert.fail(`${server} went to ERROR: ${JSON.stringify(s.fault)}`)
      await new Promise((r) => setTimeout(r, 1000))
    }
    assert.fail(`${server} is ${s?.status}, not ${status}`)
  }

  before(async () => {
    await promisify(execFile)('bash', [join(REPO, 'scripts/build-guest.sh'), GUEST_DIR], { timeout: 300_000 })
    assert.ok(existsSync(join(GUEST_DIR, 'disk.qcow2')), 'the test guest disk was built (needs root)')
    cloud = await startCloudProcess({ portOffset: OFFSET, args: ['--set', 'compute.driver=qemu'] })
  })
  after(async () => {
    if (!cloud) return
    await cloud.stop()
    // Belt and braces: a failed test must not leave guests running on the machine.
    for (const pid of qemuPids(cloud.dataDir)) { try { process.kill(pid, 'SIGKILL') } catch { /* gone */ } }
    await cloud.destroy()
  })

  test('boot, console, power actions, snapshot, boot from snapshot, delete, nothing left', async () => {
    await ok('image', 'create', '--file', join(GUEST_DIR, 'disk.qcow2'), '--disk-format', 'qcow2',
      '--container-format', 'bare', '--public', 'e2e-guest')
    await ok('flavor', 'create', '--vcpus', '1', '--ram', '256', '--disk', '1', 'e2e.guest')
    const pub = join(cloud.dataDir, 'e2e.pub')
    writeFileSync(pub, ED25519 + '\n')
    await ok('keypair', 'create', '--public-key', pub, 'e2e-key')

    const vm1 = await oscJson('server', 'create', '--image', 'e2e-guest', '--flavor', 'e2e.guest', '--key-name', 'e2e-key', '--wait', 'vm1')
    assert.equal(vm1.status, 'ACTIVE')
    assert.ok([1, 'Running'].includes(vm1['OS-EXT-STS:power_state']), String(vm1['OS-EXT-STS:power_state']))
    const log = await waitForMarker('vm1')
    assert.match(log, /cumulo-guest ready vm1/, 'the guest read its hostname from the metadata service')
    assert.equal(qemuPids(vm1.id).length, 1)

    await ok('server', 'stop', 'vm1')
    await waitStatus('vm1', 'SHUTOFF')
    assert.equal(qemuPids(vm1.id).length, 0, 'a stopped guest has no qemu process')
    await ok('server', 'start', 'vm1')
    await waitStatus('vm1', 'ACTIVE')
    await waitForMarker('vm1', 2)
    await ok('server', 'reboot', '--hard', '--wait', 'vm1')
    await waitForMarker('vm1', 3)

    await ok('server', 'image', 'create', '--name', 'vm1-snap', '--wait', 'vm1')
    const snap = await oscJson('image', 'show', 'vm1-snap')
    assert.equal(snap.status, 'active')
    assert.ok(snap.size > 0)
    const vm2 = await oscJson('server', 'create', '--image', 'vm1-snap', '--flavor', 'e2e.guest', '--wait', 'vm2')
    assert.equal(vm2.status, 'ACTIVE')
    await waitForMarker('vm2')

    const actions = await oscJson('server', 'event', 'list', 'vm1')
    for (const a of ['create', 'stop', 'start', 'reboot', 'createImage']) {
      assert.ok(actions.some((x: any) => x.Action === a), `${a} in ${JSON.stringify(actions)}`)
    }

    await ok('server', 'delete', '--wait', 'vm1', 'vm2')
    assert.deepEqual((await oscJson('server', 'list')).map((s: any) => s.Name), [])
    assert.deepEqual(qemuPids(cloud.dataDir), [], 'no qemu process left')
    const instancesDir = join(cloud.dataDir, 'compute', 'instances')
    assert.deepEqual(existsSync(instancesDir) ? readdirSync(instancesDir) : [], [], 'no instance files left')
  })
})
