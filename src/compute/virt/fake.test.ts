import assert from 'node:assert/strict'
import { test } from 'node:test'
import { virtDriverConformance } from '../../../test/conformance/virt-driver.ts'
import { FAKE_READY_MARKER, FakeDriver } from './fake.ts'

virtDriverConformance(async () => new FakeDriver(), {
  image: { path: '/nonexistent/fake.qcow2', format: 'qcow2' },
  readyMarker: FAKE_READY_MARKER,
  poweredOffMarker: 'fake: powered off',
  bootTimeoutMs: 1000,
})

test('fake driver reports the configured host size', async () => {
  const d = new FakeDriver({ host: { vcpus: 4, memoryMb: 8192 } })
  assert.deepEqual(await d.hostResources(), { vcpus: 4, memoryMb: 8192, diskGb: 1000 })
})

test('fake driver keeps its own copy of the spec', async () => {
  const d = new FakeDriver()
  const spec = { id: 'a', image: { path: '/x', format: 'raw' as const },
    flavor: { vcpus: 2, ramMb: 512, diskGb: 5 }, nics: [] }
  await d.spawn(spec)
  spec.flavor.vcpus = 99
  assert.equal((await d.list())[0]?.vcpus, 2)
})
