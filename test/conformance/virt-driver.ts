// The VirtDriver conformance suite: every virt driver (qemu, fake) runs these same cases.
// Booting a real guest takes seconds, so the cases walk one instance through its whole life
// in order (node:test runs the tests of a describe block one after another).
import assert from 'node:assert/strict'
import { existsSync, statSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import { rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import type { FlavorSpec, InstanceSpec, VirtDriver } from '../../src/compute/virt/driver.ts'

/** How a driver under test is made and checked. */
export interface VirtConformanceOptions {
  /** A reason to skip the suite (e.g. qemu is not installed), or false to run it. */
  skip?: string | false
  /** The image instances boot; the fake driver ignores it. */
  image: InstanceSpec['image']
  /** The line a guest prints on the serial console once it has booted. */
  readyMarker: string
  /** A line the guest prints when it obeys an ACPI power-off (shows it was not a hard stop). */
  poweredOffMarker: string
  bootTimeoutMs?: number
  /**
   * Whether the guest really fetches its metadata over the user NIC and prints
   * `<readyMarker> <hostname> <ip>/<len>` (the test guest does; the fake does not).
   */
  fetchesMetadata?: boolean
  /** A second driver over the same host state, as after an agent restart (omit if none). */
  reopen?: () => Promise<VirtDriver>
  /** Extra checks of a snapshot file (e.g. a standalone qcow2). */
  checkSnapshot?: (path: string) => Promise<void>
  /** Checks how a suspended instance is kept (e.g. no process, its memory in a file). */
  checkSuspended?: (id: string) => Promise<void>
  /** Checks that the running guest really has `flavor` (e.g. qemu's -m and -smp). */
  checkRunningFlavor?: (id: string, flavor: FlavorSpec) => Promise<void>
  /** Asserts that nothing of a destroyed instance is left on the host (processes, files). */
  assertGone?: (id: string) => Promise<void>
  /** Called after the suite, e.g. to destroy leftovers of a failed run. */
  cleanup?: (driver: VirtDriver) => Promise<void>
}

/** Polls `fn` until it returns true or `timeoutMs` passes. */
async function until(what: string, timeoutMs: number, fn: () => Promise<boolean>): Promise<void> {
  const end = Date.now() + timeoutMs
  for (;;) {
    if (await fn()) return
    if (Date.now() > end) assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 200))
  }
}

const HOSTNAME = 'conf-guest'
const SSH_KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIConformanceKeyOnly conformance@cumulo'

/**
 * User data the test guest runs: it reports on its console whether it reaches the metadata
 * address (it must) and a server on the host's loopback through slirp's host address (it must
 * not: restrict=on).
 */
function probeScript(hostPort: number): string {
  const say = (m: string) => `echo "conformance: ${m}" > /dev/console`
  return ['#!/bin/sh',
    `if timeout 5 wget -q -O /dev/null http://169.254.169.254/openstack/latest/meta_data.json; then ${say('metadata reachable')}; fi`,
    `if timeout 5 wget -q -O /dev/null http://169.254.0.2:${hostPort}/; then ${say('host reachable')}; else ${say('host unreachable')}; fi`,
    ''].join('\n')
}

/** A metadata server for one instance on a Unix socket, as the agent runs; it logs the paths asked. */
async function metadataServer(path: string, userData: () => string): Promise<{ server: Server; asked: string[] }> {
  const asked: string[] = []
  const server = createServer((req, res) => {
    asked.push(req.url ?? '')
    const url = req.url ?? ''
    if (url === '/openstack/latest/meta_data.json') {
      res.setHeader('content-type', 'application/json')
      res.end(JSON.stringify({ uuid: 'conformance', name: 'conformance', hostname: HOSTNAME }))
    } else if (url === '/latest/meta-data/public-keys/0/openssh-key') {
      res.end(`${SSH_KEY}\n`)
    } else if (url === '/openstack/latest/user_data') {
      res.end(userData())
    } else {
      res.statusCode = 404
      res.end('not found')
    }
  })
  await rm(path, { force: true })
  await new Promise<void>((resolve) => server.listen(path, resolve))
  return { server, asked }
}

/** Runs the suite against a driver made by `make`. */
export function virtDriverConformance(make: () => Promise<VirtDriver>, o: VirtConformanceOptions): void {
  describe('VirtDriver conformance', { skip: o.skip }, () => {
    let d: VirtDriver
    let md: { server: Server; asked: string[] } | undefined
    // A server on the host's loopback that no guest may reach; it counts who tried.
    let outside: Server | undefined
    let outsideHits = 0
    let outsidePort = 0
    const id = `conf-${process.pid}-${Date.now().toString(36)}`
    // Unix socket paths are short (108 bytes): straight under the temporary directory.
    const mdSocket = join(tmpdir(), `cmd-${process.pid}-${Date.now().toString(36)}.sock`)
    const snapDir = join(tmpdir(), `conf-snap-${process.pid}-${Date.now().toString(36)}`)
    const mac = 'fa:16:3e:0c:0f:01'
    const small: FlavorSpec = { vcpus: 1, ramMb: 192, diskGb: 1 }
    const spec: InstanceSpec = {
      id, name: 'conformance', image: o.image, flavor: small,
      nics: [{ mac, user: { metadataSocket: mdSocket } }], userData: '#!/bin/sh\necho hi\n',
    }
    const bootTimeout = o.bootTimeoutMs ?? 60_000
    const console_ = () => d.consoleOutput(id, 1 << 20)
    const count = async (marker: string) => (await console_()).split(marker).length - 1
    // Waits until the guest has printed the ready marker `n` times in all (one per boot).
    const booted = (n: number) => until(`boot #${n}`, bootTimeout, async () => (await count(o.readyMarker)) >= n)
    const rejectsWith = (p: Promise<unknown>, code: string) =>
      assert.rejects(p, (e: Error & { code?: string }) => { assert.equal(e.code, code, e.message); return true })
    const listed = async () => (await d.list()).find((i) => i.id === id)
    const adopt = async () => {
      if (!o.reopen) return
      d = await o.reopen()
      await d.init()
    }

    before(async () => {
      outside = createServer((_req, res) => { outsideHits++; res.end('escaped') })
      await new Promise<void>((resolve) => outside!.listen(0, '127.0.0.1', resolve))
      outsidePort = (outside.address() as { port: number }).port
      md = await metadataServer(mdSocket, () => probeScript(outsidePort))
      d = await make()
      await d.init()
    })
    after(async () => {
      if (d) {
        await d.destroy(id).catch(() => {})
        await o.cleanup?.(d)
      }
      md?.server.close()
      outside?.close()
      await rm(mdSocket, { force: true })
      await rm(snapDir, { recursive: true, force: true })
    })

    test('reports the host size', async () => {
      const h = await d.hostResources()
      assert.ok(h.vcpus > 0 && h.memoryMb > 0 && h.diskGb >= 0, JSON.stringify(h))
    })

    test('unknown instances: NotFound, and destroy is a no-op', async () => {
      const none = 'no-such-instance'
      await rejectsWith(d.getState(none), 'InstanceNotFound')
      await rejectsWith(d.powerOn(none), 'InstanceNotFound')
      await rejectsWith(d.consoleOutput(none), 'InstanceNotFound')
      await rejectsWith(d.addresses(none), 'InstanceNotFound')
      await rejectsWith(d.snapshot(none, join(snapDir, 'x.qcow2')), 'InstanceNotFound')
      await rejectsWith(d.suspend(none), 'InstanceNotFound')
      await rejectsWith(d.resume(none), 'InstanceNotFound')
      await rejectsWith(d.rebuild(none, o.image), 'InstanceNotFound')
      await rejectsWith(d.resize(none, small), 'InstanceNotFound')
      await rejectsWith(d.confirmResize(none), 'InstanceNotFound')
      await rejectsWith(d.revertResize(none), 'InstanceNotFound')
      await d.destroy(none)
      assert.ok(!(await d.list()).some((i) => i.id === none))
      assert.ok(!existsSync(join(snapDir, 'x.qcow2')))
    })

    test('spawn boots a running guest that is listed with its flavor and address', async () => {
      await d.spawn(spec)
      assert.equal(await d.getState(id), 'running')
      assert.deepEqual(await listed(), { id, state: 'running', vcpus: 1, ramMb: 192, diskGb: 1 })
      assert.deepEqual(await d.addresses(id), [{ mac, ip: '169.254.0.15' }])
      await booted(1)
      const tail = await d.consoleOutput(id, 8)
      assert.ok(Buffer.byteLength(tail) <= 8, 'consoleOutput honours tailBytes')
    })

    test('the guest reads its own metadata through the user NIC, and reaches nothing else', { skip: !o.fetchesMetadata }, async () => {
      assert.match(await console_(), new RegExp(`${o.readyMarker} ${HOSTNAME} 169\\.254\\.0\\.15/16`))
      assert.ok(md!.asked.includes('/openstack/latest/meta_data.json'), md!.asked.join(' '))
      assert.ok(md!.asked.includes('/latest/meta-data/public-keys/0/openssh-key'), md!.asked.join(' '))
      // The user data's probes (GUEST.md: the test guest runs `#!` user data in the background).
      await until('the network probes', 20_000, async () => (await console_()).includes('conformance: host '))
      const out = await console_()
      assert.ok(out.includes('conformance: metadata reachable'), 'the probe itself works')
      assert.ok(out.includes('conformance: host unreachable'), 'restrict=on: no way out to the host')
      assert.equal(outsideHits, 0)
    })

    test('spawning the same id twice is a conflict', async () => {
      await rejectsWith(d.spawn(spec), 'Conflict')
      assert.equal(await d.getState(id), 'running')
    })

    test('pause and unpause', async () => {
      await d.pause(id)
      assert.equal(await d.getState(id), 'paused')
      await d.pause(id)  // idempotent
      await rejectsWith(d.powerOn(id), 'InstanceInvalidState')
      await rejectsWith(d.suspend(id), 'InstanceInvalidState')
      await rejectsWith(d.resize(id, { ...small, ramMb: 256 }), 'InstanceInvalidState')
      await rejectsWith(d.rebuild(id, o.image), 'InstanceInvalidState')
      await d.snapshot(id, join(snapDir, 'paused.qcow2'))
      assert.equal(await d.getState(id), 'paused', 'a snapshot leaves a paused guest paused')
      await d.unpause(id)
      assert.equal(await d.getState(id), 'running')
      await d.unpause(id)
    })

    test('snapshot of a running guest: a file, and the guest runs on', async () => {
      const dest = join(snapDir, 'running.qcow2')
      await d.snapshot(id, dest)
      assert.equal(await d.getState(id), 'running')
      assert.ok(statSync(dest).size > 0)
      assert.ok(!existsSync(`${dest}.part`))
      await o.checkSnapshot?.(dest)
    })

    test('hard reboot starts the guest again', async () => {
      await d.reboot(id, 'hard')
      assert.equal(await d.getState(id), 'running')
      await booted(2)
    })

    test('suspend saves the guest, survives a restart, and resume continues it without a boot', async () => {
      await d.resume(id)  // running already: no-op
      await d.suspend(id)
      assert.equal(await d.getState(id), 'suspended')
      await d.suspend(id)  // idempotent
      await o.checkSuspended?.(id)
      await rejectsWith(d.powerOn(id), 'InstanceInvalidState')
      await rejectsWith(d.pause(id), 'InstanceInvalidState')
      await adopt()
      assert.equal((await listed())?.state, 'suspended')
      await d.resume(id)
      assert.equal(await d.getState(id), 'running')
      await d.resume(id)  // idempotent
      await new Promise((r) => setTimeout(r, 500))
      assert.equal(await count(o.readyMarker), 2, 'the guest was restored, not booted again')
    })

    test('power off obeys ACPI, and a stopped guest refuses pause and soft reboot', async () => {
      // Also shows that the resumed guest is alive: its acpid hears the button.
      await d.powerOff(id, { timeoutMs: bootTimeout })
      assert.equal(await d.getState(id), 'shutdown')
      assert.ok((await count(o.poweredOffMarker)) >= 1, 'the guest saw the power button')
      await d.powerOff(id)  // idempotent
      await rejectsWith(d.pause(id), 'InstanceInvalidState')
      await rejectsWith(d.suspend(id), 'InstanceInvalidState')
      await rejectsWith(d.reboot(id, 'soft'), 'InstanceInvalidState')
      await adopt()
      assert.equal((await listed())?.state, 'shutdown')
    })

    test('snapshot of a stopped guest', async () => {
      const dest = join(snapDir, 'stopped.qcow2')
      await d.snapshot(id, dest)
      assert.equal(await d.getState(id), 'shutdown')
      await o.checkSnapshot?.(dest)
    })

    test('resize while stopped: revert, then resize again and confirm', async () => {
      const big: FlavorSpec = { vcpus: 1, ramMb: 256, diskGb: 2 }
      await rejectsWith(d.resize(id, { ...small, diskGb: 0 }), 'Conflict')  // never shrink
      await d.resize(id, big)
      assert.equal(await d.getState(id), 'shutdown')
      assert.deepEqual(await listed(), { id, state: 'shutdown', ...big, oldFlavor: small })
      await d.resize(id, big)  // a repeat: no-op
      await rejectsWith(d.resize(id, { ...big, ramMb: 320 }), 'Conflict')
      await rejectsWith(d.rebuild(id, o.image), 'Conflict')
      await adopt()
      assert.deepEqual(await listed(), { id, state: 'shutdown', ...big, oldFlavor: small })
      await d.revertResize(id)
      assert.deepEqual(await listed(), { id, state: 'shutdown', ...small })
      await d.revertResize(id)  // nothing pending: no-op
      await d.resize(id, big)
      await d.confirmResize(id)
      assert.deepEqual(await listed(), { id, state: 'shutdown', ...big })
      await d.confirmResize(id)
    })

    test('power on boots it again with the same disk and the new flavor', async () => {
      await d.powerOn(id)
      assert.equal(await d.getState(id), 'running')
      await booted(3)
      await d.powerOn(id)  // idempotent
      await o.checkRunningFlavor?.(id, { vcpus: 1, ramMb: 256, diskGb: 2 })
    })

    test('soft reboot: a clean shutdown, then a boot', async () => {
      const offs = await count(o.poweredOffMarker)
      await d.reboot(id, 'soft')
      assert.equal(await d.getState(id), 'running')
      assert.equal(await count(o.poweredOffMarker), offs + 1)
      await booted(4)
    })

    test('resize while running restarts it with the new flavor; revert restores the old', async () => {
      const was: FlavorSpec = { vcpus: 1, ramMb: 256, diskGb: 2 }
      const bigger: FlavorSpec = { vcpus: 2, ramMb: 288, diskGb: 3 }
      await d.resize(id, bigger)
      assert.equal(await d.getState(id), 'running')
      assert.deepEqual(await listed(), { id, state: 'running', ...bigger, oldFlavor: was })
      await booted(5)
      await o.checkRunningFlavor?.(id, bigger)
      await d.revertResize(id)
      assert.equal(await d.getState(id), 'running')
      assert.deepEqual(await listed(), { id, state: 'running', ...was })
      await booted(6)
      await o.checkRunningFlavor?.(id, was)
    })

    test('rebuild gives a running guest a fresh disk and boots it, keeping NICs and console', async () => {
      await d.rebuild(id, o.image)
      assert.equal(await d.getState(id), 'running')
      await booted(7)
      assert.deepEqual(await d.addresses(id), [{ mac, ip: '169.254.0.15' }])
      assert.deepEqual(await listed(), { id, state: 'running', vcpus: 1, ramMb: 256, diskGb: 2 })
    })

    test('destroy removes the instance and everything it had', async () => {
      await d.destroy(id)
      assert.ok(!(await d.list()).some((i) => i.id === id))
      await rejectsWith(d.getState(id), 'InstanceNotFound')
      await d.destroy(id)  // idempotent
      await o.assertGone?.(id)
    })
  })
}
