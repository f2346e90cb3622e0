// The object disk layer (Swift's obj/diskfile.py): where object files live on a device, how
// they are written durably, opened, cleaned up, hashed for replication and quarantined. The
// object server, replicator and auditor all go through `ObjectDisk`.
//
// Layout per device: objects[-N]/<part>/<suffix>/<hash>/<timestamp>.data|.ts|.meta, with
// tmp[-N]/ for writes in progress, async_pending[-N]/ and quarantined/objects[-N]/.
import { createHash, randomUUID } from 'node:crypto'
import { readdir as readdirCb, readdirSync, renameSync } from 'node:fs'
import { mkdir, rename, rm, rmdir, stat, unlink } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { Timestamp } from '../ring/timestamp.ts'
import type { StorageLogger } from './backend.ts'
import { CorruptFileError, type ObjectMetadata, TmpFileWriter, openObjectFile, openObjectFileSync } from './datafile.ts'
import { chunksOf } from './chunks.ts'
import { makeDirs, syncDirs } from './durable.ts'
import { type FileSet, classifyFiles, liveFiles, makeFilename } from './ondisk.ts'
import { OpenObjectFile, type OpenObject } from './open-object.ts'
import { SuffixHashes } from './suffix-hashes.ts'

export type { ObjectMetadata } from './datafile.ts'
export type { OpenObject } from './open-object.ts'

/** Where one object lives on this node. `hash` is hashPath(account, container, object). */
export interface ObjectLocation {
  device: string
  partition: string
  /** Storage policy index (objects-N for N > 0). */
  policy: number
  hash: string
}

/** What opening an object found. `changed`: files kept changing underneath (answer 503). */
export type OpenResult =
  | { status: 'ok'; object: OpenObject }
  | { status: 'missing' }
  | { status: 'deleted'; timestamp: Timestamp }
  | { status: 'quarantined'; reason: string }
  | { status: 'collision' }
  | { status: 'changed' }

/** What writing an object body produced. */
export interface WriteResult { etag: string; size: number; filename: string }

/** The body was shorter than its Content-Length (Swift: 499 Client Disconnect). */
export class ShortBodyError extends Error { override readonly name = 'ShortBodyError' }
/** The body was longer than its Content-Length. */
export class LongBodyError extends Error { override readonly name = 'LongBodyError' }
/** The body's md5 differs from the ETag it was sent with (Swift: 422). */
export class EtagMismatchError extends Error { override readonly name = 'EtagMismatchError' }

/** Options for writing a .data file. */
export interface WriteDataOptions {
  timestamp: Timestamp
  /** Stored metadata (X-Timestamp, name, Content-Type, …); ETag and Content-Length are filled in. */
  metadata: ObjectMetadata
  body?: AsyncIterable<Buffer | string>
  /** Expected body size, when announced. */
  contentLength?: number
  /** Expected md5 (hex, unquoted); defaults to `metadata.ETag` (a replicated copy). */
  etag?: string
}

/** The disk contract shared by the object server, replicator and auditor. */
export interface ObjectDisk {
  readonly devicesRoot: string
  /** Absolute path of a usable device (exists; a mount point with mountCheck), or null (507). */
  devicePath(device: string): Promise<string | null>
  listDevices(): Promise<string[]>
  listPartitions(device: string, policy: number): Promise<string[]>
  listSuffixes(device: string, policy: number, partition: string): Promise<string[]>
  listHashes(device: string, policy: number, partition: string, suffix: string): Promise<string[]>
  /** The object's files after cleanup, newest first (what replication copies). */
  listFiles(loc: ObjectLocation): Promise<string[]>
  /** Suffix → md5 of its files' names (Swift's get_hashes); `recalculate` forces rehashing those. */
  getHashes(device: string, policy: number, partition: string, opts?: { recalculate?: readonly string[]; listdir?: boolean }): Promise<Record<string, string>>
  /**
   * Opens the newest state of an object; `name` ("/a/c/o") guards against hash collisions.
   * `blocking`: list the hash dir and read the headers with synchronous calls — cheaper when
   * they are in the page cache, as for a client's request (see durable.ts); walkers over cold
   * data (replicator, auditor) leave it off. A large body is read on the thread pool either way.
   */
  open(loc: ObjectLocation, opts?: { name?: string; blocking?: boolean }): Promise<OpenResult>
  /** Reads one file's metadata (e.g. a .ts or .meta to replicate). */
  readMetadata(loc: ObjectLocation, filename: string): Promise<ObjectMetadata>
  /** Streams a .data body durably into place; throws ShortBodyError/LongBodyError/EtagMismatchError. */
  writeData(loc: ObjectLocation, opts: WriteDataOptions): Promise<WriteResult>
  /** Writes a fast-POST .meta (name encodes Content-Type-Timestamp when the metadata has one). */
  writeMeta(loc: ObjectLocation, timestamp: Timestamp, metadata: ObjectMetadata): Promise<string>
  /** Writes a .ts tombstone. */
  writeTombstone(loc: ObjectLocation, timestamp: Timestamp, metadata?: ObjectMetadata): Promise<string>
  /** Moves the object's hash dir to quarantined/; returns where it went (null if it was gone). */
  quarantine(loc: ObjectLocation, reason: string): Promise<string | null>
  /** Removes an object's hash dir (e.g. a handoff copy after it was replicated). */
  deleteObject(loc: ObjectLocation): Promise<void>
  /** Removes a whole partition (a handoff partition pushed to all primaries). */
  deletePartition(device: string, policy: number, partition: string): Promise<void>
}

/** Options for the file-based ObjectDisk. */
export interface FileObjectDiskOptions {
  devicesRoot: string
  /** Require devices to be mount points (Swift's mount_check). Default false. */
  mountCheck?: boolean
  /** Seconds before tombstones and orphan .meta files are reclaimed (Swift's reclaim_age). Default one week. */
  reclaimAge?: number
  logger?: StorageLogger
  /** Clock in ms (tests). */
  now?: () => number
}

/** Data directory of a policy: objects, objects-1, … */
export const dataDirName = (policy: number) => (policy ? `objects-${policy}` : 'objects')
/** Temp directory of a policy. */
export const tmpDirName = (policy: number) => (policy ? `tmp-${policy}` : 'tmp')
/** Async-pending directory of a policy. */
export const asyncDirName = (policy: number) => (policy ? `async_pending-${policy}` : 'async_pending')

const HASH_RE = /^[0-9a-f]{32}$/
const SUFFIX_RE = /^[0-9a-f]{3}$/
const DEVICE_TTL_MS = 1000

function errno(err: unknown): string {
  return (err as NodeJS.ErrnoException)?.code ?? ''
}

/** A directory's names, read synchronously; [] when it does not exist. */
function listDirSync(path: string): string[] {
  try { return readdirSync(path) } catch (err) {
    if (errno(err) === 'ENOENT' || errno(err) === 'ENOTDIR') return []
    throw err
  }
}

/** A directory's names; [] when it does not exist. (The callback API: cheaper than fs.promises.) */
function listDir(path: string): Promise<string[]> {
  return new Promise((resolve, reject) => readdirCb(path, (err, names) => {
    if (!err) resolve(names)
    else if (err.code === 'ENOENT' || err.code === 'ENOTDIR') resolve([])
    else reject(err)
  }))
}

/** A device name or partition as Swift's validate_device_partition accepts. */
export function validPathPart(s: string): boolean {
  return s !== '' && s !== '.' && s !== '..' && !s.includes('/')
}

/** ObjectDisk on local directories, one per device under `devicesRoot`. */
export class FileObjectDisk implements ObjectDisk {
  readonly devicesRoot: string
  private readonly mountCheck: boolean
  private readonly reclaimAgeMs: number
  private readonly log?: StorageLogger
  private readonly now: () => number
  private readonly devices = new Map<string, { path: string | null; at: number }>()
  private readonly madeDirs = new Set<string>()
  readonly hashes: SuffixHashes

  constructor(opts: FileObjectDiskOptions) {
    this.devicesRoot = opts.devicesRoot
    this.mountCheck = opts.mountCheck ?? false
    this.reclaimAgeMs = (opts.reclaimAge ?? 7 * 86400) * 1000
    this.log = opts.logger
    this.now = opts.now ?? Date.now
    this.hashes = new SuffixHashes((dir) => this.hashSuffix(dir))
  }

  async devicePath(device: string): Promise<string | null> {
    if (!validPathPart(device)) return null
    const hit = this.devices.get(device)
    const t = this.now()
    if (hit && t - hit.at < DEVICE_TTL_MS) return hit.path
    const path = join(this.devicesRoot, device)
    let ok = false
    try {
      const st = await stat(path)
      ok = st.isDirectory()
      if (ok && this.mountCheck) {
        // A mount point sits on another filesystem than its parent (or is the root itself).
        const parent = await stat(dirname(path))
        ok = st.dev !== parent.dev || st.ino === parent.ino
      }
    } catch (err) {
      if (errno(err) !== 'ENOENT' && errno(err) !== 'ENOTDIR') throw err
    }
    const result = ok ? path : null
    this.devices.set(device, { path: result, at: t })
    return result
  }

  async listDevices(): Promise<string[]> {
    const out: string[] = []
    for (const d of (await listDir(this.devicesRoot)).sort()) if (await this.devicePath(d)) out.push(d)
    return out
  }

  private partDir(device: string, policy: number, partition: string): string {
    return join(this.devicesRoot, device, dataDirName(policy), partition)
  }

  private hashDir(loc: ObjectLocation): string {
    return join(this.partDir(loc.device, loc.policy, loc.partition), loc.hash.slice(-3), loc.hash)
  }

  async listPartitions(device: string, policy: number): Promise<string[]> {
    return (await listDir(join(this.devicesRoot, device, dataDirName(policy)))).filter((p) => /^\d+$/.test(p))
  }

  async listSuffixes(device: string, policy: number, partition: string): Promise<string[]> {
    return (await listDir(this.partDir(device, policy, partition))).filter((s) => SUFFIX_RE.test(s)).sort()
  }

  async listHashes(device: string, policy: number, partition: string, suffix: string): Promise<string[]> {
    return (await listDir(join(this.partDir(device, policy, partition), suffix))).filter((h) => HASH_RE.test(h)).sort()
  }

  /** Which of a hash dir's files cleanup removes (obsolete ones, reclaimable tombstones and .meta). */
  private cleanupPlan(files: string[]): { set: FileSet; gone: Set<string>; left: string[] } {
    const set = classifyFiles(files)
    const gone = new Set<string>()
    const old = (ts: Timestamp) => this.now() - ts.seconds * 1000 > this.reclaimAgeMs
    if (set.ts && old(set.ts.timestamp)) { gone.add(set.ts.filename); set.ts = undefined }
    for (const f of set.possibleReclaim) if (old(f.timestamp)) gone.add(f.filename)
    for (const f of set.obsolete) gone.add(f.filename)
    return { set, gone, left: files.filter((f) => !gone.has(f)) }
  }

  /** Removes obsolete files (and reclaimable tombstones); returns what is left. Swift's cleanup_ondisk_files. */
  private async cleanup(dir: string): Promise<{ set: FileSet; left: string[] }> {
    const files = await listDir(dir)
    const { set, gone, left } = this.cleanupPlan(files)
    for (const name of gone) {
      await unlink(join(dir, name)).catch((err) => { if (errno(err) !== 'ENOENT') throw err })
    }
    if (files.length && !left.length) await rmdir(dir).catch(() => {})
    return { set, left }
  }

  /**
   * cleanup() of a hash dir a write just renamed into. Its listing is in the page cache, so it
   * is read synchronously; the unlinks and rmdir run on the thread pool: freeing a synced
   * file's blocks waits for the device to discard them (~0.6 ms for 4 KiB here; see durable.ts).
   */
  private async cleanupAfterWrite(dir: string): Promise<void> {
    let files: string[]
    try { files = readdirSync(dir) } catch (err) {
      if (errno(err) === 'ENOENT' || errno(err) === 'ENOTDIR') return
      throw err
    }
    const { gone, left } = this.cleanupPlan(files)
    if (!gone.size) return
    await Promise.all([...gone].map((name) => unlink(join(dir, name)).catch((err) => { if (errno(err) !== 'ENOENT') throw err })))
    if (!left.length) await rmdir(dir).catch(() => {})
  }

  /** md5 over the state-deciding file names of every object in a suffix (as Swift's _hash_suffix_dir). */
  private async hashSuffix(suffixDir: string): Promise<string | null> {
    const md5 = createHash('md5')
    for (const h of (await listDir(suffixDir)).sort()) {
      const { set, left } = await this.cleanup(join(suffixDir, h))
      if (!left.length) continue
      if (set.meta) md5.update(set.meta.timestamp.internal + '.meta')
      if (set.ts) md5.update(set.ts.timestamp.internal + '.ts')
      if (set.data) md5.update(set.data.timestamp.internal + '.data')
      if (set.ctype?.ctypeTimestamp) md5.update(set.ctype.ctypeTimestamp.internal + '_ctype')
    }
    try {
      await rmdir(suffixDir) // succeeds only when empty: then the suffix no longer exists
      return null
    } catch (err) {
      if (errno(err) === 'ENOENT' || errno(err) === 'ENOTDIR') return null
    }
    return md5.digest('hex')
  }

  async getHashes(device: string, policy: number, partition: string, opts: { recalculate?: readonly string[]; listdir?: boolean } = {}): Promise<Record<string, string>> {
    return this.hashes.getHashes(this.partDir(device, policy, partition), opts)
  }

  async listFiles(loc: ObjectLocation): Promise<string[]> {
    const { set } = await this.cleanup(this.hashDir(loc))
    return liveFiles(set).map((f) => f.filename)
  }

  async open(loc: ObjectLocation, opts: { name?: string; blocking?: boolean } = {}): Promise<OpenResult> {
    const dir = this.hashDir(loc)
    const openFile = opts.blocking
      ? (path: string, keepOpen: boolean) => Promise.resolve(openObjectFileSync(path, keepOpen))
      : openObjectFile
    for (let attempt = 0; attempt < 3; attempt++) {
      const set = classifyFiles(opts.blocking ? listDirSync(dir) : await listDir(dir))
      if (!set.data) return set.ts ? { status: 'deleted', timestamp: set.ts.timestamp } : { status: 'missing' }
      let current = join(dir, set.data.filename)
      try {
        const data = await openFile(current, true)
        let meta: ObjectMetadata | null = null
        let ctype: ObjectMetadata | null = null
        try {
          if (set.meta) { current = join(dir, set.meta.filename); meta = (await openFile(current, false)).metadata }
          if (set.ctype && set.ctype !== set.meta) { current = join(dir, set.ctype.filename); ctype = (await openFile(current, false)).metadata }
        } catch (err) {
          if (!data.inline) await data.file.close()
          throw err
        }
        const obj = new OpenObjectFile({
          disk: this, loc, dataFile: set.data.filename, data, meta, ctype,
          dataTimestamp: set.data.timestamp,
        })
        const problem = obj.validate()
        if (problem) {
          await obj.close()
          await this.quarantine(loc, problem)
          return { status: 'quarantined', reason: problem }
        }
        if (opts.name !== undefined && obj.dataMetadata.name !== opts.name) {
          await obj.close()
          this.log?.error({ hash: loc.hash, name: opts.name, stored: obj.dataMetadata.name }, 'object name does not match its hash dir')
          return { status: 'collision' }
        }
        return { status: 'ok', object: obj }
      } catch (err) {
        if (errno(err) === 'ENOENT') continue // replaced by a newer write while we looked: look again
        if (err instanceof CorruptFileError) {
          const reason = `${current}: ${err.message}`
          await this.quarantine(loc, reason)
          return { status: 'quarantined', reason }
        }
        throw err
      }
    }
    return { status: 'changed' }
  }

  async readMetadata(loc: ObjectLocation, filename: string): Promise<ObjectMetadata> {
    return (await openObjectFile(join(this.hashDir(loc), filename), false)).metadata
  }

  private async ensureDir(path: string): Promise<void> {
    if (this.madeDirs.has(path)) return
    await mkdir(path, { recursive: true })
    this.madeDirs.add(path)
  }

  /**
   * Renames a flushed temp file into its hash dir durably, then cleans up and invalidates the
   * suffix. As Swift: the file is flushed before the rename, and the hash dir (and every
   * directory this write made, with its parent) after it. The rename is synchronous page-cache
   * work; making directories and the fsyncs (together) go to the thread pool (see durable.ts).
   */
  private async commit(loc: ObjectLocation, tmpPath: string, filename: string): Promise<void> {
    const dir = this.hashDir(loc)
    const partDir = this.partDir(loc.device, loc.policy, loc.partition)
    const suffix = loc.hash.slice(-3)
    // Invalidate before the rename (a crash after it must not leave a stale hash) and after
    // the cleanup (a rehash racing this write must not keep the old value; usually free).
    // Before the partition dir exists there is nothing to invalidate: it is made below.
    await this.hashes.invalidate(partDir, suffix)
    let created: string | undefined
    // The rename is tried first: the hash dir exists for an overwrite, a tombstone or a .meta.
    // Otherwise (a new object, or a cleanup removed an empty hash dir meanwhile) it is made —
    // on the pool, as creating a directory allocates an inode (see durable.ts).
    for (let attempt = 0; ; attempt++) {
      try {
        renameSync(tmpPath, join(dir, filename))
        break
      } catch (err) {
        if (errno(err) !== 'ENOENT' || attempt >= 3) throw err
      }
      const made = await makeDirs(dir)
      if (made !== undefined && (!created || made.length < created.length)) created = made
    }
    if (created) await this.hashes.invalidate(partDir, suffix)
    // New directories are durable only once their parents' entries are synced too. The syncs
    // are independent, so they run together.
    const dirs = [dir]
    if (created) for (let d = dir; d.length >= created.length; d = dirname(d)) dirs.push(dirname(d))
    await syncDirs(dirs)
    // A hash dir this write created held nothing older to clean up (a write racing into it
    // cleans up after itself, and any cleanup or rehash later removes what is left over).
    if (!created) await this.cleanupAfterWrite(dir)
    await this.hashes.invalidate(partDir, suffix)
  }

  async writeData(loc: ObjectLocation, opts: WriteDataOptions): Promise<WriteResult> {
    const devPath = join(this.devicesRoot, loc.device)
    const tmpDir = join(devPath, tmpDirName(loc.policy))
    await this.ensureDir(tmpDir)
    const metadata: ObjectMetadata = { ...opts.metadata, 'X-Timestamp': opts.timestamp.internal }
    // A copy pushed by replication carries its ETag: the received bytes must match it.
    const expectedEtag = opts.etag ?? metadata.ETag
    delete metadata.ETag
    delete metadata['Content-Length']
    const writer = new TmpFileWriter(tmpDir, metadata)
    try {
      const expected = opts.contentLength
      if (opts.body) {
        for await (const c of chunksOf(opts.body)) {
          const chunk = typeof c === 'string' ? Buffer.from(c) : c
          if (expected !== undefined && writer.size + chunk.length > expected) throw new LongBodyError('body longer than Content-Length')
          await writer.write(chunk)
        }
      }
      if (expected !== undefined && writer.size < expected) throw new ShortBodyError(`body ended after ${writer.size} of ${expected} bytes`)
      const etag = writer.digest()
      if (expectedEtag !== undefined && expectedEtag.toLowerCase() !== etag) throw new EtagMismatchError(`body md5 ${etag} differs from ETag ${expectedEtag}`)
      metadata.ETag = etag
      metadata['Content-Length'] = String(writer.size)
      const tmpPath = await writer.finish(metadata)
      const filename = makeFilename(opts.timestamp, '.data')
      await this.commit(loc, tmpPath, filename)
      return { etag, size: writer.size, filename }
    } catch (err) {
      await writer.abort()
      throw err
    }
  }

  private async writeMetadataFile(loc: ObjectLocation, filename: string, metadata: ObjectMetadata): Promise<string> {
    const tmpDir = join(this.devicesRoot, loc.device, tmpDirName(loc.policy))
    await this.ensureDir(tmpDir)
    const writer = new TmpFileWriter(tmpDir, metadata)
    try {
      await this.commit(loc, await writer.finish(metadata), filename)
      return filename
    } catch (err) {
      await writer.abort()
      throw err
    }
  }

  async writeMeta(loc: ObjectLocation, timestamp: Timestamp, metadata: ObjectMetadata): Promise<string> {
    const md: ObjectMetadata = { ...metadata, 'X-Timestamp': timestamp.internal }
    const ctype = md['Content-Type-Timestamp'] ? new Timestamp(md['Content-Type-Timestamp']) : undefined
    return this.writeMetadataFile(loc, makeFilename(timestamp, '.meta', ctype), md)
  }

  async writeTombstone(loc: ObjectLocation, timestamp: Timestamp, metadata: ObjectMetadata = {}): Promise<string> {
    const md = { ...metadata, 'X-Timestamp': timestamp.internal }
    return this.writeMetadataFile(loc, makeFilename(timestamp, '.ts'), md)
  }

  async quarantine(loc: ObjectLocation, reason: string): Promise<string | null> {
    const from = this.hashDir(loc)
    const qdir = join(this.devicesRoot, loc.device, 'quarantined', dataDirName(loc.policy))
    await mkdir(qdir, { recursive: true })
    let to = join(qdir, loc.hash)
    try {
      await rename(from, to)
    } catch (err) {
      if (errno(err) === 'ENOENT') return null
      if (errno(err) !== 'EEXIST' && errno(err) !== 'ENOTEMPTY') throw err
      to = `${to}-${randomUUID().replace(/-/g, '')}`
      await rename(from, to)
    }
    await this.hashes.invalidate(this.partDir(loc.device, loc.policy, loc.partition), loc.hash.slice(-3))
    this.log?.warn({ device: loc.device, hash: loc.hash, to, reason }, 'object quarantined')
    return to
  }

  async deleteObject(loc: ObjectLocation): Promise<void> {
    await rm(this.hashDir(loc), { recursive: true, force: true })
    await this.hashes.invalidate(this.partDir(loc.device, loc.policy, loc.partition), loc.hash.slice(-3))
  }

  async deletePartition(device: string, policy: number, partition: string): Promise<void> {
    if (!validPathPart(partition)) throw new Error(`bad partition ${partition}`)
    const dir = this.partDir(device, policy, partition)
    await rm(dir, { recursive: true, force: true })
    this.hashes.forget(dir)
  }
}

/** The file-based ObjectDisk. */
export function createObjectDisk(opts: FileObjectDiskOptions): ObjectDisk {
  return new FileObjectDisk(opts)
}
