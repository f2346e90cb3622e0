// Tempest's image suite (tempest.api.image.v2) against a fresh `cumulo up` with
// TEMPEST_GLANCE=true. Every image test of the OpenStack Powered 2022.11 interop list must pass;
// any other failure must be listed, with its reason, in tempest-image.known-failures.
import { test } from 'node:test'
import { join } from 'node:path'
import { have } from '../support/cloud-process.ts'
import { runTempestSuite } from '../support/tempest.ts'

const hasTempest = await have('tempest')
if (!hasTempest && process.env.CI === 'true') throw new Error('tempest (Debian package) is required in CI')

test('tempest.api.image against cumulo', { skip: !hasTempest && 'tempest not installed (apt-get install tempest)', timeout: 30 * 60_000 }, async () => {
  await runTempestSuite({
    label: 'image', regex: '^tempest\\.api\\.image\\.v2\\.', interopPrefix: 'tempest.api.image.',
    knownFailures: join(import.meta.dirname, 'tempest-image.known-failures'), portOffset: 16000,
    env: { TEMPEST_GLANCE: 'true' },
  })
})
