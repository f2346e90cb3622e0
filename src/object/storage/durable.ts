// Making object files durable with as few trips to libuv's thread pool as possible.
//
// Every fs.promises call is a round trip to the pool: a FileHandle and a promise on the main
// thread, a futex wake of a pool thread and an eventfd wake back. A small PUT made ~20 of them
// (open/write/fdatasync/close of the temp file, one mkdir per path level, open/fsync/close of
// each directory, the hashes.invalid append, a readdir for cleanup), which measured ~1.2 ms of
// system CPU per PUT on this 2-vCPU machine, and each trip costs two context switches, which
// are dear under paravirtualised interrupts (a third of the server's CPU went to scheduling).
// The rule now:
// - calls that only touch the page cache and entries already there run synchronously: writing
//   a small temp file, rename, close, opening a directory, listing a hash dir for a client's
//   request (10–80 µs each);
// - calls that wait for the disk or do heavy kernel work go to the pool, the ones of one write
//   together: fsync and fdatasync; creating a file or a directory (allocating an inode costs
//   ~250 µs of kernel time on this ext4 without a journal); unlink and rmdir (with the
//   `discard` mount option the kernel waits for the device to discard freed blocks: 0.6–3 ms);
//   and reads of object bodies (they may miss the cache).
import { closeSync, fdatasync, fsync, mkdir, open, openSync, writevSync } from 'node:fs'
import { dirname } from 'node:path'

/** fsync(2) of an open descriptor on the thread pool. */
export function fsyncFd(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fsync(fd, (err) => (err ? reject(err) : resolve())))
}

/** fdatasync(2) of an open descriptor on the thread pool. */
export function fdatasyncFd(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fdatasync(fd, (err) => (err ? reject(err) : resolve())))
}

/**
 * Makes directory entries durable: fsyncs every directory given, concurrently (concurrent
 * fsyncs share one journal commit), and resolves when all are done.
 */
export async function syncDirs(dirs: readonly string[]): Promise<void> {
  const fds: number[] = []
  try {
    for (const d of dirs) fds.push(openSync(d, 'r'))
    await Promise.all(fds.map(fsyncFd))
  } finally {
    for (const fd of fds) closeSync(fd)
  }
}

/** Writes buffers at `pos` in full with writev (a write may be short), synchronously. */
export function writeAllSync(fd: number, bufs: Buffer[], pos: number): void {
  let list = bufs
  while (list.length) {
    const n = writevSync(fd, list, pos)
    pos += n
    list = unwritten(list, n)
  }
}

/** What is left of `bufs` after a (possibly short) vectored write of `n` bytes. */
export function unwritten(bufs: Buffer[], n: number): Buffer[] {
  const rest: Buffer[] = []
  for (const b of bufs) {
    if (n >= b.length) { n -= b.length; continue }
    rest.push(n ? b.subarray(n) : b)
    n = 0
  }
  return rest
}

/** open(2) on the thread pool (creating a file allocates an inode), resolving to the descriptor. */
export function openFd(path: string, flags: string, mode = 0o666): Promise<number> {
  return new Promise((resolve, reject) => open(path, flags, mode, (err, fd) => (err ? reject(err) : resolve(fd))))
}

/** mkdir(2) of one level on the thread pool; resolves true when made, false when it existed. */
function mkdirOne(path: string): Promise<boolean> {
  return new Promise((resolve, reject) => mkdir(path, (err) => {
    if (!err) resolve(true)
    else if (err.code === 'EEXIST') resolve(false)
    else reject(err)
  }))
}

/**
 * mkdir -p on the thread pool, trying the deepest level first (usually only an object's hash
 * dir, or it and its suffix dir, are new): one trip per level made. Resolves to the topmost
 * directory it created (undefined when `dir` existed), as mkdir's `recursive` option does.
 */
export async function makeDirs(dir: string, maxLevels = 8): Promise<string | undefined> {
  const below: string[] = [] // levels found missing, deepest first
  let d = dir
  let top: string | undefined
  for (;;) {
    try {
      if (await mkdirOne(d)) top = d
      break
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || below.length >= maxLevels) throw err
      below.push(d)
      d = dirname(d)
    }
  }
  for (let i = below.length - 1; i >= 0; i--) {
    if (await mkdirOne(below[i]!)) top ??= below[i]
  }
  return top
}
