// Per-partition suffix hashes for the replicator (Swift's hashes.pkl + hashes.invalid, here
// hashes.json). A write only appends its suffix to `hashes.invalid` (cheap, and skipped when the
// suffix is already listed); `getHashes` folds those into hashes.json and rehashes just the
// invalidated suffixes, so comparing two partitions costs one small request.
//
// The lock is in-process: one process owns a device's partitions (the storage node process,
// which also runs the replicator in-process or reaches it through REPLICATE).
import { randomBytes } from 'node:crypto'
import { appendFileSync } from 'node:fs'
import { open, readFile, readdir, rename, stat, truncate, unlink } from 'node:fs/promises'
import { join } from 'node:path'

/** Per-partition cache of suffix hashes. */
export const HASHES_FILE = 'hashes.json'
/** Per-partition list of suffixes changed since the cache was last updated. */
export const INVALID_FILE = 'hashes.invalid'
const SUFFIX_RE = /^[0-9a-f]{3}$/

/** Computes one suffix's hash (after cleanup); null when the suffix dir is gone or empty. */
export type SuffixHasher = (suffixDir: string) => Promise<string | null>

type HashMap = Record<string, string | null>

function isErrno(err: unknown, ...codes: string[]): boolean {
  return codes.includes((err as NodeJS.ErrnoException)?.code ?? '')
}

async function isDir(path: string): Promise<boolean> {
  try { return (await stat(path)).isDirectory() } catch (err) {
    if (isErrno(err, 'ENOENT', 'ENOTDIR')) return false
    throw err
  }
}

/** hashes.json and hashes.invalid of every partition of one ObjectDisk. */
export class SuffixHashes {
  private readonly locks = new Map<string, Promise<unknown>>()
  /** Suffixes appended to a partition's hashes.invalid since it was last consolidated. */
  private readonly listed = new Map<string, Set<string>>()

  constructor(private readonly hashSuffix: SuffixHasher) {}

  private withLock<T>(partDir: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(partDir) ?? Promise.resolve()
    const run = prev.then(fn, fn)
    const tail = run.catch(() => {})
    this.locks.set(partDir, tail)
    void tail.then(() => { if (this.locks.get(partDir) === tail) this.locks.delete(partDir) })
    return run
  }

  /** Drops what is remembered about a partition (after it was removed). */
  forget(partDir: string): void {
    this.listed.delete(partDir)
  }

  /** Marks a suffix as changed. Call after the partition directory exists. */
  async invalidate(partDir: string, suffix: string): Promise<void> {
    if (this.listed.get(partDir)?.has(suffix)) return
    await this.withLock(partDir, async () => {
      let set = this.listed.get(partDir)
      if (set?.has(suffix)) return
      try {
        // A few bytes appended to a file in the page cache: synchronous, no thread-pool trips.
        appendFileSync(join(partDir, INVALID_FILE), suffix + '\n')
      } catch (err) {
        if (isErrno(err, 'ENOENT')) return // partition removed meanwhile: nothing to invalidate
        throw err
      }
      if (!set) { set = new Set(); this.listed.set(partDir, set) }
      set.add(suffix)
    })
  }

  private async readHashes(partDir: string): Promise<{ text: string; map: HashMap | null }> {
    let text = ''
    try { text = await readFile(join(partDir, HASHES_FILE), 'utf8') } catch (err) {
      if (!isErrno(err, 'ENOENT')) throw err
      return { text, map: null }
    }
    try {
      const parsed = JSON.parse(text) as unknown
      if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) return { text, map: null }
      const map: HashMap = {}
      for (const [k, v] of Object.entries(parsed)) {
        if (!SUFFIX_RE.test(k) || (v !== null && typeof v !== 'string')) return { text, map: null }
        map[k] = v
      }
      return { text, map }
    } catch {
      return { text, map: null } // corrupt: treated as absent, everything is rehashed
    }
  }

  private async writeHashes(partDir: string, map: HashMap, sync: boolean): Promise<string> {
    const text = JSON.stringify(map)
    const tmp = join(partDir, `.${HASHES_FILE}.${randomBytes(6).toString('hex')}`)
    const fh = await open(tmp, 'w')
    try {
      await fh.writeFile(text)
      if (sync) await fh.datasync()
    } finally {
      await fh.close()
    }
    try { await rename(tmp, join(partDir, HASHES_FILE)) } catch (err) {
      await unlink(tmp).catch(() => {})
      throw err
    }
    return text
  }

  /**
   * Suffix → md5 for a partition (Swift's get_hashes). `recalculate` forces those suffixes to be
   * rehashed; `listdir` also looks for suffix dirs the cache does not know. A missing partition
   * has no hashes.
   */
  async getHashes(partDir: string, opts: { recalculate?: readonly string[]; listdir?: boolean } = {}): Promise<Record<string, string>> {
    for (let attempt = 0; ; attempt++) {
      // 1. Fold hashes.invalid into hashes.json (durably, before the invalid list is emptied).
      const folded = await this.withLock(partDir, async () => {
        const { text, map } = await this.readHashes(partDir)
        let lines: string[] = []
        try {
          lines = (await readFile(join(partDir, INVALID_FILE), 'utf8')).split('\n')
        } catch (err) {
          if (!isErrno(err, 'ENOENT')) throw err
          if (map === null && !(await isDir(partDir))) return null // no such partition
        }
        this.listed.delete(partDir)
        const next: HashMap = { ...(map ?? {}) }
        let changed = false
        for (const line of lines) {
          const s = line.trim()
          if (SUFFIX_RE.test(s)) { next[s] = null; changed = true }
        }
        let snapshot = text
        if (changed && map !== null) snapshot = await this.writeHashes(partDir, next, true)
        if (lines.length > 1 || (lines.length === 1 && lines[0] !== '')) {
          await truncate(join(partDir, INVALID_FILE), 0).catch(() => {})
        }
        return { snapshot, map: next, valid: map !== null }
      })
      if (folded === null) return {}

      // 2. Rehash what is unknown or invalid, without holding the lock (writes keep flowing).
      const hashes = folded.map
      let modified = false
      if (!folded.valid || opts.listdir) {
        let names: string[] = []
        try { names = await readdir(partDir) } catch (err) { if (!isErrno(err, 'ENOENT', 'ENOTDIR')) throw err }
        for (const n of names) if (SUFFIX_RE.test(n) && !(n in hashes)) hashes[n] = null
        modified = true
      }
      for (const s of opts.recalculate ?? []) if (SUFFIX_RE.test(s)) hashes[s] = null
      for (const [suffix, h] of Object.entries(hashes)) {
        if (h !== null) continue
        const value = await this.hashSuffix(join(partDir, suffix))
        if (value === null) delete hashes[suffix]
        else hashes[suffix] = value
        modified = true
      }

      // 3. Store the result unless another consolidation rewrote hashes.json meanwhile.
      if (!modified) return hashes as Record<string, string>
      const stored = await this.withLock(partDir, async () => {
        const now = await this.readHashes(partDir)
        if (now.text !== folded.snapshot) return false
        await this.writeHashes(partDir, hashes, false)
        return true
      })
      if (stored || attempt >= 3) return hashes as Record<string, string>
    }
  }
}
