// The qemu driver's longer-lived instance states, kept as files in the instance's directory so
// that a restarted agent finds them: a suspended guest's saved memory (QEMU migration to a
// file) and the disk and spec kept for reverting a resize. Every step is written so that an
// agent dying half-way leaves either the old state or the new one, and a retry finishes it.
import { existsSync } from 'node:fs'
import { copyFile, readFile, rename, rm, writeFile } from 'node:fs/promises'
import type { InstanceSpec } from './driver.ts'
import { shQuote, type InstancePaths } from './qemu-cmdline.ts'
import type { QmpClient } from './qmp.ts'

/** Polls `probe` every 100 ms until it returns true; throws after `timeoutMs`. */
async function poll(what: string, timeoutMs: number, probe: () => Promise<boolean>): Promise<void> {
  const end = Date.now() + timeoutMs
  while (!await probe()) {
    if (Date.now() > end) throw new Error(`${what} took over ${timeoutMs} ms`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

/**
 * Saves a running guest's memory and device state to `p.suspendState` by migrating it to a
 * file: qemu streams into `cat` and, at the end, leaves the guest stopped (postmigrate) with
 * its disks flushed; the caller then quits qemu. The file gets its final name only once
 * complete, so its presence always means a whole saved state. On failure the guest runs on
 * (a failed migration resumes it) and nothing is left behind.
 */
export async function saveMemory(q: QmpClient, p: InstancePaths, timeoutMs: number): Promise<void> {
  const part = `${p.suspendState}.part`
  try {
    // Nothing to throttle for: the "network" is a local file (the default limit is 128 MiB/s).
    await q.execute('migrate-set-parameters', { 'max-bandwidth': 64 * 1024 ** 3 })
    await q.execute('migrate', { uri: `exec:cat > ${shQuote(part)}` })
    await poll('saving the guest memory', timeoutMs, async () => {
      const m = await q.execute<{ status?: string; 'error-desc'?: string }>('query-migrate')
      if (m.status === 'failed' || m.status === 'cancelled') throw new Error(m['error-desc'] ?? `migration ${m.status}`)
      return m.status === 'completed'
    })
    await rename(part, p.suspendState)
  } catch (e) {
    await rm(part, { force: true })
    throw e
  }
}

/**
 * Finishes a resume: qemu was started with `-S -incoming exec:cat <state>` and loads in the
 * background; once it has left 'inmigrate' the guest waits, paused, and `cont` lets it run on
 * from where it was saved. A load that fails makes qemu exit, which closes QMP and throws.
 */
export async function loadMemory(q: QmpClient, timeoutMs: number): Promise<void> {
  await poll('loading the guest memory', timeoutMs,
    async () => (await q.execute<{ status: string }>('query-status')).status !== 'inmigrate')
  await q.execute('cont')
}

/** Writes the instance's spec atomically (spec.json is what a restarted agent adopts). */
export async function writeSpec(p: InstancePaths, spec: InstanceSpec): Promise<void> {
  await writeFile(`${p.spec}.part`, JSON.stringify(spec))
  await rename(`${p.spec}.part`, p.spec)
}

/** The spec from before a pending resize, or undefined when no resize is pending. */
export async function preResizeSpec(p: InstancePaths): Promise<InstanceSpec | undefined> {
  try {
    return JSON.parse(await readFile(p.resizeSpec, 'utf8')) as InstanceSpec
  } catch {
    return undefined
  }
}

/**
 * Keeps a stopped instance's root disk and spec for a revert: a copy of the overlay (the base
 * image is shared and read-only), then the old spec, whose presence means "a resize is pending".
 */
export async function keepForRevert(p: InstancePaths, spec: InstanceSpec): Promise<void> {
  await copyFile(p.disk, `${p.resizeDisk}.part`)
  await rename(`${p.resizeDisk}.part`, p.resizeDisk)
  await writeFile(p.resizeSpec, JSON.stringify(spec))
}

/**
 * Puts a stopped instance back as it was before the resize. Each step can be repeated, so a
 * revert interrupted half-way is finished by a retry.
 */
export async function restoreKept(p: InstancePaths, old: InstanceSpec): Promise<void> {
  await writeSpec(p, old)
  if (existsSync(p.resizeDisk)) await rename(p.resizeDisk, p.disk)
  await rm(p.resizeSpec, { force: true })
}

/** Drops what a resize kept for its revert. */
export async function dropKept(p: InstancePaths): Promise<void> {
  await rm(p.resizeSpec, { force: true })
  await rm(p.resizeDisk, { force: true })
}
