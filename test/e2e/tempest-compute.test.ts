// Tempest's compute suite (tempest.api.compute) against a fresh `cumulo up` with TEMPEST_NOVA=true:
// the fake virt driver on two simulated hosts. Every compute test of the OpenStack Powered
// 2022.11 interop list must pass but those waiting for the network and block storage services
// (tempest-compute.interop-waiting, with reasons); any other failure must be listed, with its
// reason, in tempest-compute.known-failures.
import { test } from 'node:test'
import { join } from 'node:path'
import { have } from '../support/cloud-process.ts'
import { runTempestSuite } from '../support/tempest.ts'

const hasTempest = await have('tempest')
if (!hasTempest && process.env.CI === 'true') throw new Error('tempest (Debian package) is required in CI')

test('tempest.api.compute against cumulo', { skip: !hasTempest && 'tempest not installed (apt-get install tempest)', timeout: 30 * 60_000 }, async () => {
  await runTempestSuite({
    label: 'compute', regex: '^tempest\\.api\\.compute\\.', interopPrefix: 'tempest.api.compute.',
    knownFailures: join(import.meta.dirname, 'tempest-compute.known-failures'), portOffset: 18000,
    interopWaiting: join(import.meta.dirname, 'tempest-compute.interop-waiting'),
    env: { TEMPEST_NOVA: 'true' },
  })
})
