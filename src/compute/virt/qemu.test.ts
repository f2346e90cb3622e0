// The qemu driver against real guests: the project's test guest (scripts/build-guest.sh),
// built once into a cache directory and booted under TCG, on a user-mode NIC whose only
// destination is the suite's metadata server.
import assert from 'node:assert/strict'
import { execFile, execFileSync } from 'node:child_process'
import { existsSync, statSync } from 'node:fs'
import { copyFile, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { promisify } from 'node:util'
import { virtDriverConformance } from '../../../test/conformance/virt-driver.ts'
import type { ImageRef } from './driver.ts'
import { instancePaths, METADATA_PROXY, qemuArgs } from './qemu-cmdline.ts'
import { probeAccel } from './qemu-host.ts'
import { QemuDriver } from './qemu.ts'

const run = promisify(execFile)
const REPO = join(import.meta.dirname, '../../..')
const GUEST_DIR = join(tmpdir(), 'cumulo-test-guest')

function has(cmd: string): boolean {
  try { execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }); return true } catch { return false }
}
const missing = ['qemu-system-x86_64', 'qemu-img', 'cpio'].filter((c) => !has(c))
// In CI the suite must run (.ci/run installs the packages); elsewhere say why it is skipped.
const skip = missing.length > 0 && process.env.CI !== 'true' && `needs ${missing.join(', ')} (apt-get install qemu-system-x86 qemu-utils cpio)`

const roots: string[] = []

/** The test guest, built on first use and reused by later runs (the script is idempotent). */
let image: Promise<ImageRef> | undefined
function guestImage(): Promise<ImageRef> {
  image ??= (async () => {
    await run('bash', [join(REPO, 'scripts/build-guest.sh'), GUEST_DIR], { timeout: 300_000 })
    if (existsSync(join(GUEST_DIR, 'disk.qcow2'))) return { path: join(GUEST_DIR, 'disk.qcow2'), format: 'qcow2' as const }
    // Without root the script cannot make the bootable disk: boot the kernel directly instead.
    const blank = join(GUEST_DIR, 'blank.qcow2')
    if (!existsSync(blank)) await run('qemu-img', ['create', '-q', '-f', 'qcow2', blank, '64M'])
    return { path: blank, format: 'qcow2' as const, kernel: join(GUEST_DIR, 'vmlinuz'), initrd: join(GUEST_DIR, 'initrd.img') }
  })()
  return image
}

async function newDriver(root?: string): Promise<QemuDriver> {
  if (!root) { root = await mkdtemp(join(tmpdir(), 'cumulo-qemu-')); roots.push(root) }
  return new QemuDriver({ root, accel: 'tcg', powerOffTimeoutMs: 30_000 })
}

/** Pids of qemu processes whose command line mentions `needle` (only ones this test made). */
async function qemuPids(needle: string): Promise<number[]> {
  const pids: number[] = []
  for (const p of await readdir('/proc')) {
    if (!/^\d+$/.test(p)) continue
    const cmd = await readFile(`/proc/${p}/cmdline`, 'utf8').catch(() => '')
    if (cmd.startsWith('qemu-system') || cmd.includes('/qemu-system')) if (cmd.includes(needle)) pids.push(Number(p))
  }
  return pids
}

after(async () => {
  // Whatever a failed case left behind: stop its qemu processes, then remove the directories.
  for (const root of roots) {
    for (const pid of await qemuPids(root)) { try { process.kill(pid, 'SIGKILL') } catch { /* gone */ } }
    await rm(root, { recursive: true, force: true })
  }
})

let lastRoot = ''
// The suite takes its image up front but the guest is built lazily: `make` fills this object in.
const imageRef: ImageRef = { path: '', format: 'qcow2' }
virtDriverConformance(async () => {
  const img = await guestImage()
  const d = await newDriver()
  lastRoot = roots[roots.length - 1]!
  imageRef.path = img.path; imageRef.kernel = img.kernel; imageRef.initrd = img.initrd
  return d
}, {
  skip,
  image: imageRef,
  readyMarker: 'cumulo-guest ready',
  poweredOffMarker: 'cumulo-guest: power button',
  bootTimeoutMs: 60_000,
  fetchesMetadata: true,
  reopen: () => newDriver(lastRoot),
  checkSnapshot: async (path) => {
    const { stdout } = await run('qemu-img', ['info', '--output=json', path])
    const info = JSON.parse(stdout) as { format: string; 'backing-filename'?: string }
    assert.equal(info.format, 'qcow2')
    assert.equal(info['backing-filename'], undefined, 'a standalone image, not an overlay')
    await run('qemu-img', ['check', '-q', path])
    // Flattened: the same content as the base image (the guest runs from its initramfs and
    // never writes its disk), the grown remainder reading as zeros.
    await run('qemu-img', ['compare', '-q', '-f', 'qcow2', '-F', imageRef.format, path, imageRef.path])
  },
  checkSuspended: async (id) => {
    const p = instancePaths(lastRoot, id)
    assert.deepEqual(await qemuPids(p.dir), [], 'a suspended guest has no process')
    // The guest's memory (mostly zero pages, which migration sends compactly) and device state.
    assert.ok(statSync(p.suspendState).size > 1024 * 1024, 'the saved memory is on disk')
  },
  checkRunningFlavor: async (id, flavor) => {
    const p = instancePaths(lastRoot, id)
    const pid = (await readFile(p.pid, 'utf8')).trim()
    const args = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0')
    assert.equal(args[args.indexOf('-m') + 1], String(flavor.ramMb))
    assert.equal(args[args.indexOf('-smp') + 1], String(flavor.vcpus))
    const { stdout } = await run('qemu-img', ['info', '-U', '--output=json', p.disk])
    assert.equal((JSON.parse(stdout) as { 'virtual-size': number })['virtual-size'], flavor.diskGb * 1024 ** 3)
  },
  assertGone: async (id) => {
    assert.deepEqual(await qemuPids(join(lastRoot, id)), [], 'no qemu process left')
    assert.ok(!existsSync(join(lastRoot, id)), 'no instance directory left')
    assert.deepEqual(await readdir(lastRoot), [], 'nothing left under the root')
  },
})

describe('qemu driver specifics', { skip }, () => {
  test('a restarted driver adopts running guests and can stop them', async () => {
    const img = await guestImage()
    const a = await newDriver()
    const root = roots[roots.length - 1]!
    await a.init()
    const spec = { id: 'adopt-me', image: img, flavor: { vcpus: 1, ramMb: 128, diskGb: 0 }, nics: [] }
    await a.spawn(spec)
    // A new driver on the same root, as after an agent restart: it finds the guest by its files.
    // The agent "died" after resuming it but before removing the saved state: that is stale now.
    await writeFile(instancePaths(root, 'adopt-me').suspendState, 'stale')
    const b = await newDriver(root)
    await b.init()
    assert.deepEqual((await b.list()).map((i) => [i.id, i.state]), [['adopt-me', 'running']])
    assert.ok(!existsSync(instancePaths(root, 'adopt-me').suspendState), 'the stale saved state is gone')
    await b.pause('adopt-me')
    assert.equal(await a.getState('adopt-me'), 'paused', 'both see the same qemu')
    await b.destroy('adopt-me')
    assert.deepEqual(await qemuPids(root), [])
    assert.deepEqual(await readdir(root), [])
  })

  test('a guest that ignores ACPI is stopped hard after the timeout; a half-done resize is finished', async () => {
    const img = await guestImage()
    const d = await newDriver()
    const root = roots[roots.length - 1]!
    await d.init()
    await d.spawn({ id: 'stubborn', image: img, flavor: { vcpus: 1, ramMb: 128, diskGb: 0 }, nics: [] })
    // Paused guests cannot act on the power button, and a still-booting one has no acpid yet.
    await d.powerOff('stubborn', { timeoutMs: 500 })
    assert.equal(await d.getState('stubborn'), 'shutdown')
    assert.deepEqual(await qemuPids(root), [])

    // An agent that died inside resize, after keeping the old disk and spec but before the
    // new spec: a retry finishes the resize, and a revert still goes back to the original.
    const p = instancePaths(root, 'stubborn')
    await copyFile(p.disk, p.resizeDisk)
    await copyFile(p.spec, p.resizeSpec)
    await d.resize('stubborn', { vcpus: 1, ramMb: 160, diskGb: 1 })
    const old = { vcpus: 1, ramMb: 128, diskGb: 0 }
    assert.deepEqual(await d.list(), [{ id: 'stubborn', state: 'shutdown', vcpus: 1, ramMb: 160, diskGb: 1, oldFlavor: old }])
    await d.revertResize('stubborn')
    assert.deepEqual(await d.list(), [{ id: 'stubborn', state: 'shutdown', ...old }])
    assert.ok(!existsSync(p.resizeDisk) && !existsSync(p.resizeSpec))
    await d.destroy('stubborn')
  })
})

test('command line: overlay via -blockdev, taps, restricted user networking, nothing else', () => {
  const p = instancePaths('/srv/i', 'x1')
  const args = qemuArgs({
    id: 'x1', image: { path: '/img', format: 'qcow2' }, flavor: { vcpus: 2, ramMb: 512, diskGb: 1 },
    nics: [{ mac: 'fa:16:3e:00:00:01', tap: 'tap0' }, { mac: 'fa:16:3e:00:00:02' },
      { mac: 'fa:16:3e:00:00:03', user: { metadataSocket: "/run/md,x/it's.sock" } }],
  }, p, { accel: 'tcg', daemonize: true, node: '/usr/bin/node' })
  const s = args.join(' ')
  assert.match(s, /-blockdev driver=file,node-name=root-file,filename=\/srv\/i\/x1\/disk.qcow2/)
  assert.match(s, /-netdev tap,id=net0,ifname=tap0,script=no,downscript=no/)
  assert.match(s, /virtio-net-pci,netdev=net0,mac=fa:16:3e:00:00:01/)
  assert.ok(!s.includes('net1'), 'a NIC with neither tap nor user is left out')
  const user = args[args.indexOf('-netdev', args.indexOf('-netdev') + 1) + 1]!
  // Commas inside the command are doubled for QEMU's parser; the quote survives GLib's splitting.
  assert.equal(user, 'user,id=net2,net=169.254.0.0/16,host=169.254.0.2,dhcpstart=169.254.0.15,restrict=on,' +
    `guestfwd=tcp:169.254.169.254:80-cmd:/usr/bin/node ${METADATA_PROXY} '/run/md,,x/it'\\''s.sock'`)
  assert.match(s, /virtio-net-pci,netdev=net2,mac=fa:16:3e:00:00:03/)
  assert.ok(!s.includes('-incoming') && !s.includes(' -S '))
  assert.ok(!s.includes('vhost'), 'no vhost-net on these hosts')
  assert.ok(!s.includes('-kernel') && !s.includes('-uuid'), s)
  assert.equal(args[args.indexOf('-smp') + 1], '2')
  assert.equal(args[args.indexOf('-m') + 1], '512')
  assert.ok(args.includes('-daemonize') && args.includes('-nodefaults'))
})

test('command line: resuming loads the saved state and waits paused', () => {
  const p = instancePaths('/srv/i', 'x1')
  const args = qemuArgs({ id: 'x1', image: { path: '/img', format: 'qcow2' }, flavor: { vcpus: 1, ramMb: 128, diskGb: 1 }, nics: [] },
    p, { accel: 'tcg', daemonize: true, incoming: p.suspendState })
  assert.equal(args[args.indexOf('-incoming') + 1], 'exec:cat /srv/i/x1/suspend.state')
  assert.ok(args.includes('-S'))
})

test('the accelerator probe answers quickly, falling back to TCG', async () => {
  // A qemu that cannot start at all (here: no such binary) must mean TCG, never a hang.
  assert.equal(await probeAccel('/nonexistent/qemu-system-x86_64', 2000), 'tcg')
  if (!skip) assert.ok(['kvm', 'tcg'].includes(await probeAccel('qemu-system-x86_64', 3000)))
})
