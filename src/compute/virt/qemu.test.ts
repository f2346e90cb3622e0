// The qemu driver against real guests: the project's test guest (scripts/build-guest.sh),
// built once into a cache directory and booted under TCG with no network at all.
import assert from 'node:assert/strict'
import { execFile, execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { promisify } from 'node:util'
import { virtDriverConformance } from '../../../test/conformance/virt-driver.ts'
import type { ImageRef } from './driver.ts'
import { instancePaths, qemuArgs } from './qemu-cmdline.ts'
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
    const b = await newDriver(root)
    await b.init()
    assert.deepEqual((await b.list()).map((i) => [i.id, i.state]), [['adopt-me', 'running']])
    await b.pause('adopt-me')
    assert.equal(await a.getState('adopt-me'), 'paused', 'both see the same qemu')
    await b.destroy('adopt-me')
    assert.deepEqual(await qemuPids(root), [])
    assert.deepEqual(await readdir(root), [])
  })

  test('a guest that ignores ACPI is stopped hard after the timeout', async () => {
    const img = await guestImage()
    const d = await newDriver()
    const root = roots[roots.length - 1]!
    await d.init()
    await d.spawn({ id: 'stubborn', image: img, flavor: { vcpus: 1, ramMb: 128, diskGb: 0 }, nics: [] })
    // Paused guests cannot act on the power button, and a still-booting one has no acpid yet.
    await d.powerOff('stubborn', { timeoutMs: 500 })
    assert.equal(await d.getState('stubborn'), 'shutdown')
    assert.deepEqual(await qemuPids(root), [])
    await d.destroy('stubborn')
  })
})

test('command line: overlay via -blockdev, taps only, never user networking', () => {
  const p = instancePaths('/srv/i', 'x1')
  const args = qemuArgs({
    id: 'x1', image: { path: '/img', format: 'qcow2' }, flavor: { vcpus: 2, ramMb: 512, diskGb: 1 },
    nics: [{ mac: 'fa:16:3e:00:00:01', tap: 'tap0' }, { mac: 'fa:16:3e:00:00:02' }],
  }, p, { accel: 'tcg', daemonize: true })
  const s = args.join(' ')
  assert.match(s, /-blockdev driver=file,node-name=root-file,filename=\/srv\/i\/x1\/disk.qcow2/)
  assert.match(s, /-netdev tap,id=net0,ifname=tap0,script=no,downscript=no/)
  assert.match(s, /virtio-net-pci,netdev=net0,mac=fa:16:3e:00:00:01/)
  assert.ok(!s.includes('net1') && !/-netdev user|-nic/.test(s), s)
  assert.ok(!s.includes('vhost'), 'no vhost-net on these hosts')
  assert.ok(!s.includes('-kernel') && !s.includes('-uuid'), s)
  assert.equal(args[args.indexOf('-smp') + 1], '2')
  assert.equal(args[args.indexOf('-m') + 1], '512')
  assert.ok(args.includes('-daemonize') && args.includes('-nodefaults'))
})

test('the accelerator probe answers quickly, falling back to TCG', async () => {
  // A qemu that cannot start at all (here: no such binary) must mean TCG, never a hang.
  assert.equal(await probeAccel('/nonexistent/qemu-system-x86_64', 2000), 'tcg')
  if (!skip) assert.ok(['kvm', 'tcg'].includes(await probeAccel('qemu-system-x86_64', 3000)))
})
