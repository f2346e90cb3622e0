// The VirtDriver conformance suite: every virt driver (qemu, fake) runs these same cases.
// Booting a real guest takes seconds, so the cases walk one instance through its whole life
// in order (node:test runs the tests of a describe block one after another).
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { InstanceSpec, VirtDriver } from '../../src/compute/virt/driver.ts'

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

/** Runs the suite against a driver made by `make`. */
export function virtDriverConformance(make: () => Promise<VirtDriver>, o: VirtConformanceOptions): void {
  describe('VirtDriver conformance', { skip: o.skip }, () => {
    let d: VirtDriver
    const id = `conf-${process.pid}-${Date.now().toString(36)}`
    const spec: InstanceSpec = {
      id, name: 'conformance', image: o.image,
      flavor: { vcpus: 1, ramMb: 192, diskGb: 1 }, nics: [], userData: '#!/bin/sh\necho hi\n',
    }
    const bootTimeout = o.bootTimeoutMs ?? 60_000
    const count = async (marker: string) => (await d.consoleOutput(id, 1 << 20)).split(marker).length - 1
    // Waits until the guest has printed the ready marker `n` times in all (one per boot).
    const booted = (n: number) => until(`boot #${n}`, bootTimeout, async () => (await count(o.readyMarker)) >= n)
    const rejectsWith = (p: Promise<unknown>, code: string) =>
      assert.rejects(p, (e: Error & { code?: string }) => { assert.equal(e.code, code, e.message); return true })

    before(async () => { d = await make(); await d.init() })
    after(async () => {
      if (!d) return
      await d.destroy(id).catch(() => {})
      await o.cleanup?.(d)
    })

    test('reports the host size', async () => {
      const h = await d.hostResources()
      assert.ok(h.vcpus > 0 && h.memoryMb > 0 && h.diskGb >= 0, JSON.stringify(h))
    })

    test('unknown instances: NotFound, and destroy is a no-op', async () => {
      await rejectsWith(d.getState('no-such-instance'), 'InstanceNotFound')
      await rejectsWith(d.powerOn('no-such-instance'), 'InstanceNotFound')
      await rejectsWith(d.consoleOutput('no-such-instance'), 'InstanceNotFound')
      await d.destroy('no-such-instance')
      assert.ok(!(await d.list()).some((i) => i.id === 'no-such-instance'))
    })

    test('spawn boots a running guest that is listed with its flavor', async () => {
      await d.spawn(spec)
      assert.equal(await d.getState(id), 'running')
      const listed = (await d.list()).find((i) => i.id === id)
      assert.deepEqual(listed, { id, state: 'running', vcpus: 1, ramMb: 192, diskGb: 1 })
      await booted(1)
      const tail = await d.consoleOutput(id, 8)
      assert.ok(Buffer.byteLength(tail) <= 8, 'consoleOutput honours tailBytes')
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
      await d.unpause(id)
      assert.equal(await d.getState(id), 'running')
      await d.unpause(id)
    })

    test('hard reboot starts the guest again', async () => {
      await d.reboot(id, 'hard')
      assert.equal(await d.getState(id), 'running')
      await booted(2)
    })

    test('power off obeys ACPI, and a stopped guest refuses pause and soft reboot', async () => {
      await d.powerOff(id, { timeoutMs: bootTimeout })
      assert.equal(await d.getState(id), 'shutdown')
      assert.ok((await count(o.poweredOffMarker)) >= 1, 'the guest saw the power button')
      await d.powerOff(id)  // idempotent
      await rejectsWith(d.pause(id), 'InstanceInvalidState')
      await rejectsWith(d.reboot(id, 'soft'), 'InstanceInvalidState')
      assert.equal((await d.list()).find((i) => i.id === id)?.state, 'shutdown')
    })

    test('power on boots it again with the same disk', async () => {
      await d.powerOn(id)
      assert.equal(await d.getState(id), 'running')
      await booted(3)
      await d.powerOn(id)  // idempotent
    })

    test('soft reboot: a clean shutdown, then a boot', async () => {
      const offs = await count(o.poweredOffMarker)
      await d.reboot(id, 'soft')
      assert.equal(await d.getState(id), 'running')
      assert.equal(await count(o.poweredOffMarker), offs + 1)
      await booted(4)
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
