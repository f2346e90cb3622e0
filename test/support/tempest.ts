// Runs one Tempest suite (Debian package `tempest`) against a fresh `cumulo up` through
// scripts/tempest.sh, and checks the outcome: every test of the OpenStack Powered 2022.11
// interop list under the suite's prefix passes, and any other failure is listed, with its
// reason, in the suite's known-failures file.
import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { run } from './cloud-process.ts'

const ROOT = resolve(import.meta.dirname, '..', '..')

/** One Tempest suite run. */
export interface TempestSuite {
  /** For messages: "identity", "object storage". */
  label: string
  /** Tempest's --regex, e.g. '^tempest\\.api\\.identity\\.'. */
  regex: string
  /** The Tempest module prefix whose interop-list tests must all pass, e.g. 'tempest.api.identity.'. */
  interopPrefix: string
  /** File of known failures (one test id per line, '#' comments give the reason). */
  knownFailures: string
  /**
   * Interop tests that cannot pass until a service of a later issue exists (Neutron, Cinder):
   * a file with one idempotent id per line and its reason in a '#' comment. They are reported,
   * not asserted; every other interop test must pass.
   */
  interopWaiting?: string
  /** Port offset of the cloud (each suite its own). */
  portOffset: number
  /** Extra environment for scripts/tempest.sh (e.g. TEMPEST_SWIFT=true). */
  env?: Record<string, string>
}

/** What Tempest counted. */
export interface TempestSummary { passed: number; failed: number; skipped: number; failures: string[] }

/** Runs the suite and asserts the outcome. */
export async function runTempestSuite(s: TempestSuite): Promise<TempestSummary> {
  const work = mkdtempSync(join(tmpdir(), 'cumulo-tempest-'))
  try {
    const r = await run('bash', [join(ROOT, 'scripts/tempest.sh'), s.regex],
      { ...process.env, ...s.env, TEMPEST_WORKDIR: work, CUMULO_PORT_OFFSET: String(s.portOffset) }, 25 * 60_000)
    assert.equal(r.code, 0, `tempest.sh failed:\n${r.stdout}\n${r.stderr}`)
    const summary = JSON.parse(readFileSync(join(work, 'summary.json'), 'utf8')) as TempestSummary
    console.log(`tempest ${s.label}: ${summary.passed} passed, ${summary.failed} failed, ${summary.skipped} skipped`)
    assert.ok(summary.passed > 0, 'Tempest ran tests')

    const interopFile = resolve(ROOT, '..', 'shared', 'interop', 'refstack-2022.11.txt')
    if (existsSync(interopFile)) {
      // Tests are matched by their idempotent id: Tempest renames classes (ListImagesTest →
      // ListUserImagesTest) but keeps the ids.
      const results = resultsById(join(work, 'results.csv'))
      const interop = readFileSync(interopFile, 'utf8').split('\n').filter((l) => l.startsWith(s.interopPrefix))
      const failedInterop: string[] = []
      const notRun: string[] = []
      const waiting = new Set(s.interopWaiting ? readFileSync(s.interopWaiting, 'utf8').split('\n')
        .map((l) => l.replace(/#.*/, '').trim()).filter(Boolean) : [])
      for (const line of new Set(interop)) {
        const id = /\[id-([0-9a-f-]+)/.exec(line)?.[1]
        const status = id ? results.get(id) : undefined
        if (id && waiting.has(id)) {
          if (status !== 'success') console.log(`interop ${s.label}, waiting for a later service: ${line} (${status ?? 'not run'})`)
          continue
        }
        if (status === undefined) notRun.push(line)
        else if (status !== 'success') failedInterop.push(`${line}: ${status}`)
      }
      assert.deepEqual(failedInterop, [], `every interop ${s.label} test passes`)
      assert.deepEqual(notRun, [], `every interop ${s.label} test ran`)
    }
    const known = new Set(readFileSync(s.knownFailures, 'utf8').split('\n')
      .map((l) => l.replace(/#.*/, '').trim()).filter(Boolean))
    const unexpected = summary.failures.filter((f) => !known.has(f))
    assert.deepEqual(unexpected, [], `unexpected Tempest failures (see ${work}/tempest.out)`)
    return summary
  } finally {
    if (!process.env.KEEP_TEMPEST) rmSync(work, { recursive: true, force: true })
  }
}

/** Tempest's per-test status (success, fail, skip) by idempotent id, from subunit2csv's output. */
function resultsById(csvPath: string): Map<string, string> {
  const out = new Map<string, string>()
  if (!existsSync(csvPath)) return out
  for (const line of readFileSync(csvPath, 'utf8').split('\n')) {
    const m = /\[id-([0-9a-f-]+)[^\]]*\]"?,(\w+),/.exec(line)
    if (m) out.set(m[1], m[2])
  }
  return out
}
