// Tempest's identity suite (Debian package `tempest`) against a fresh `cumulo up`.
// Every test of the OpenStack Powered 2022.11 interop list for identity must pass; any other
// failure must be listed, with its reason, in tempest-identity.known-failures.
import { test } from 'node:test'
import { join } from 'node:path'
import { have } from '../support/cloud-process.ts'
import { runTempestSuite } from '../support/tempest.ts'

const hasTempest = await have('tempest')
if (!hasTempest && process.env.CI === 'true') throw new Error('tempest (Debian package) is required in CI')

test('tempest.api.identity against cumulo', { skip: !hasTempest && 'tempest not installed (apt-get install tempest)', timeout: 30 * 60_000 }, async () => {
  await runTempestSuite({
    label: 'identity', regex: '^tempest\\.api\\.identity\\.', interopPrefix: 'tempest.api.identity.',
    knownFailures: join(import.meta.dirname, 'tempest-identity.known-failures'), portOffset: 21000,
  })
})
