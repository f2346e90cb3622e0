// Tempest's identity suite (Debian package `tempest`) against a fresh `cumulo up`.
// Every test of the OpenStack Powered 2022.11 interop list for identity must pass; any other
// failure must be listed, with its reason, in tempest-identity.known-failures.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { have, run } from '../support/cloud-process.ts'

const ROOT = resolve(import.meta.dirname, '..', '..')
const CI = process.env.CI === 'true'
const hasTempest = await have('tempest')
if (!hasTempest && CI) throw new Error('tempest (Debian package) is required in CI')

test('tempest.api.identity against cumulo', { skip: !hasTempest && 'tempest not installed (apt-get install tempest)', timeout: 30 * 60_000 }, async () => {
  const work = mkdtempSync(join(tmpdir(), 'cumulo-tempest-'))
  try {
    const r = await run('bash', [join(ROOT, 'scripts/tempest.sh'), '^tempest\\.api\\.identity\\.'],
      { ...process.env, TEMPEST_WORKDIR: work, CUMULO_PORT_OFFSET: '21000' }, 25 * 60_000)
    assert.equal(r.code, 0, `tempest.sh failed:\n${r.stdout}\n${r.stderr}`)
    const summary = JSON.parse(readFileSync(join(work, 'summary.json'), 'utf8')) as
      { passed: number; failed: number; skipped: number; failures: string[] }
    console.log(`tempest identity: ${summary.passed} passed, ${summary.failed} failed, ${summary.skipped} skipped`)
    assert.ok(summary.passed > 0, 'Tempest ran tests')

    const interopFile = resolve(ROOT, '..', 'shared', 'interop', 'refstack-2022.11.txt')
    if (existsSync(interopFile)) {
      const interop = readFileSync(interopFile, 'utf8').split('\n')
        .filter((l) => l.startsWith('tempest.api.identity.')).map((l) => l.replace(/\[.*\]$/, ''))
      const failedInterop = summary.failures.filter((f) => interop.includes(f))
      assert.deepEqual(failedInterop, [], 'every interop identity test passes')
    }
    const known = new Set(readFileSync(join(import.meta.dirname, 'tempest-identity.known-failures'), 'utf8').split('\n')
      .map((l) => l.replace(/#.*/, '').trim()).filter(Boolean))
    const unexpected = summary.failures.filter((f) => !known.has(f))
    assert.deepEqual(unexpected, [], `unexpected Tempest failures (see ${work}/tempest.out)`)
  } finally {
    if (!process.env.KEEP_TEMPEST) rmSync(work, { recursive: true, force: true })
  }
})
