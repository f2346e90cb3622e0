// Container updates that could not be delivered (Swift's async_pending and object-updater).
// A record is one JSON file per object and timestamp:
//   <device>/async_pending[-N]/<suffix>/<hash>-<timestamp>
// holding the update and the replicas still owed it. The updater retries them; a newer record
// for the same object supersedes older ones, as in Swift.
import { randomBytes } from 'node:crypto'
import { mkdir, open, readFile, readdir, rename, rmdir, unlink } from 'node:fs/promises'
import { join } from 'node:path'
import { Timestamp } from '../ring/timestamp.ts'
import type { StorageLogger } from './backend.ts'
import { type ContainerUpdate, type ContainerUpdateTarget, type ContainerUpdater, backendContainerUpdater } from './container-update.ts'
import { type ObjectDisk, asyncDirName, createObjectDisk, tmpDirName } from './diskfile.ts'

/** One saved update (Swift's pickled dict, plus where to send it). */
export interface AsyncPendingRecord extends ContainerUpdate {
  /** Container partition the proxy named. */
  partition: string
  /** Replicas still owed the update ("ip:port" + device). */
  targets: { host: string; device: string }[]
  /** Replicas already updated by earlier attempts, as "host/device". */
  successes: string[]
  policy: number
}

function errno(err: unknown): string {
  return (err as NodeJS.ErrnoException)?.code ?? ''
}

async function fsyncDir(path: string): Promise<void> {
  const fh = await open(path, 'r')
  try { await fh.sync() } finally { await fh.close() }
}

/** Writes a file durably via the device's temp dir (Swift's write_pickle). */
async function writeDurably(tmpDir: string, path: string, data: string): Promise<void> {
  await mkdir(tmpDir, { recursive: true })
  const tmp = join(tmpDir, `async-${randomBytes(8).toString('hex')}.tmp`)
  const fh = await open(tmp, 'wx')
  try {
    await fh.writeFile(data)
    await fh.sync()
  } finally {
    await fh.close()
  }
  const dir = join(path, '..')
  const created = await mkdir(dir, { recursive: true })
  await rename(tmp, path)
  await fsyncDir(dir)
  if (created) await fsyncDir(join(dir, '..'))
}

/** Saves an update owed to `targets` (fsynced before returning). */
export async function writeAsyncPending(opts: {
  devicePath: string; policy: number; hash: string; partition: string
  update: ContainerUpdate; targets: ContainerUpdateTarget[]
}): Promise<string> {
  const h = opts.update.headers
  const ts = new Timestamp(h['x-meta-timestamp'] ?? h['x-timestamp'] ?? Date.now() / 1000)
  const record: AsyncPendingRecord = {
    ...opts.update, partition: opts.partition, policy: opts.policy, successes: [],
    targets: opts.targets.map((t) => ({ host: t.host, device: t.device })),
  }
  const path = join(opts.devicePath, asyncDirName(opts.policy), opts.hash.slice(-3), `${opts.hash}-${ts.internal}`)
  await writeDurably(join(opts.devicePath, tmpDirName(opts.policy)), path, JSON.stringify(record))
  return path
}

/** Options for one updater pass. */
export interface UpdaterOptions {
  devicesRoot: string
  mountCheck?: boolean
  /** Share the server's disk object (device checks); built from devicesRoot otherwise. */
  disk?: ObjectDisk
  /** Default: over the backend protocol to http://<host>. */
  containerUpdate?: ContainerUpdater
  /**
   * Current container replicas from the container ring (as Swift's updater re-resolves them).
   * Without it the replicas saved in the record are retried.
   */
  resolveTargets?: (account: string, container: string) => Promise<{ partition: string; targets: ContainerUpdateTarget[] }>
  logger?: StorageLogger
}

/** What one pass did. */
export interface UpdaterStats { successes: number; failures: number; unlinks: number; quarantined: number }

const RECORD_RE = /^([0-9a-f]{32})-([0-9._a-f]+)$/

/** One pass of the object updater over every device: retries every async_pending record once. */
export async function runUpdaterOnce(opts: UpdaterOptions): Promise<UpdaterStats> {
  const disk = opts.disk ?? createObjectDisk({ devicesRoot: opts.devicesRoot, mountCheck: opts.mountCheck })
  const updater = opts.containerUpdate ?? backendContainerUpdater()
  const stats: UpdaterStats = { successes: 0, failures: 0, unlinks: 0, quarantined: 0 }
  for (const device of await disk.listDevices()) {
    const devPath = await disk.devicePath(device)
    if (!devPath) continue
    for (const dirName of (await readdir(devPath)).filter((d) => /^async_pending(-\d+)?$/.test(d))) {
      const asyncDir = join(devPath, dirName)
      for (const suffix of (await readdir(asyncDir).catch(() => [] as string[])).filter((s) => /^[0-9a-f]{3}$/.test(s))) {
        const suffixDir = join(asyncDir, suffix)
        let lastHash = ''
        // Newest first: for one object only the newest record matters.
        for (const name of (await readdir(suffixDir).catch(() => [] as string[])).sort().reverse()) {
          const m = RECORD_RE.exec(name)
          if (!m) continue
          const path = join(suffixDir, name)
          if (m[1] === lastHash) {
            await unlink(path).catch(() => {})
            stats.unlinks++
            continue
          }
          lastHash = m[1]
          await processRecord(path, devPath, updater, opts, stats)
        }
        await rmdir(suffixDir).catch(() => {}) // only succeeds once empty
      }
    }
  }
  return stats
}

async function processRecord(path: string, devPath: string, updater: ContainerUpdater, opts: UpdaterOptions, stats: UpdaterStats): Promise<void> {
  let rec: AsyncPendingRecord
  try {
    rec = JSON.parse(await readFile(path, 'utf8')) as AsyncPendingRecord
    if (!rec || typeof rec.account !== 'string' || typeof rec.container !== 'string' || typeof rec.obj !== 'string' ||
        (rec.op !== 'PUT' && rec.op !== 'DELETE') || typeof rec.headers !== 'object') throw new Error('bad record')
  } catch (err) {
    if (errno(err) === 'ENOENT') return
    const qdir = join(devPath, 'quarantined', 'objects')
    await mkdir(qdir, { recursive: true })
    await rename(path, join(qdir, path.split('/').pop() as string)).catch(() => {})
    opts.logger?.error({ err, path }, 'async pending record unreadable, quarantined')
    stats.quarantined++
    return
  }
  let partition = rec.partition
  let targets: { host: string; device: string }[] = rec.targets ?? []
  if (opts.resolveTargets) ({ partition, targets } = await opts.resolveTargets(rec.account, rec.container))
  const successes = new Set(rec.successes ?? [])
  const todo = targets.filter((t) => !successes.has(`${t.host}/${t.device}`))
  const results = await Promise.allSettled(todo.map((t) => updater({ host: t.host, device: t.device, partition }, rec)))
  let allOk = true
  let newOk = false
  results.forEach((r, i) => {
    if (r.status === 'fulfilled') { successes.add(`${todo[i].host}/${todo[i].device}`); newOk = true } else {
      allOk = false
      opts.logger?.debug({ err: r.reason, path }, 'async update failed')
    }
  })
  if (allOk) {
    await unlink(path).catch(() => {})
    stats.successes++
    stats.unlinks++
  } else {
    stats.failures++
    if (newOk) {
      rec.successes = [...successes]
      await writeDurably(join(devPath, tmpDirName(rec.policy ?? 0)), path, JSON.stringify(rec))
    }
  }
}
