// Tempest's object storage suite (Debian package `tempest`) against a fresh `cumulo up`.
// Every test of the OpenStack Powered 2022.11 interop list for object storage must pass; any
// other failure must be listed, with its reason, in tempest-object.known-failures.
import { test } from 'node:test'
import { join } from 'node:path'
import { have } from '../support/cloud-process.ts'
import { runTempestSuite } from '../support/tempest.ts'

const hasTempest = await have('tempest')
if (!hasTempest && process.env.CI === 'true') throw new Error('tempest (Debian package) is required in CI')

test('tempest.api.object_storage against cumulo', { skip: !hasTempest && 'tempest not installed (apt-get install tempest)', timeout: 30 * 60_000 }, async () => {
  await runTempestSuite({
    label: 'object storage', regex: '^tempest\\.api\\.object_storage\\.', interopPrefix: 'tempest.api.object_storage.',
    knownFailures: join(import.meta.dirname, 'tempest-object.known-failures'), portOffset: 22000,
    env: { TEMPEST_SWIFT: 'true' },
  })
})
