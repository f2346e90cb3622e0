// Making object files durable with as few trips to libuv's thread pool as possible.
//
// Every fs.promises call is a round trip to the pool: a FileHandle and a promise on the main
// thread, a futex wake of a pool thread and an eventfd wake back. A small PUT made ~20 of them
// (open/write/fdatasync/close of the temp file, one mkdir per path level, open/fsync/close of
// each directory, the hashes.invalid append, a readdir for cleanup), which measured ~1.2 ms of
// system CPU per PUT on this 2-vCPU machine, and each trip costs two context switches, which
// are dear under paravirtualised interrupts (a third of the server's CPU went to scheduling).
// The rule now:
// - calls that only touch the page cache and the entries a write is about to make run
//   synchronously: creating and writing a small temp file, mkdir, rename, close, opening a
//   directory, listing a hash dir being written (10–250 µs of kernel work each, on a core the
//   main thread holds anyway);
// - calls that wait for the disk go to the pool, the ones of one write together: fsync and
//   fdatasync, unlink and rmdir (with the `discard` mount option the kernel waits for the
//   device to discard freed blocks: 0.6–3 ms), and reads of object data (they may miss the cache).
import { closeSync, fdatasync, fsync, openSync, writevSync } from 'node:fs'

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
    let n = writevSync(fd, list, pos)
    pos += n
    const rest: Buffer[] = []
    for (const b of list) {
      if (n >= b.length) { n -= b.length; continue }
      rest.push(n ? b.subarray(n) : b)
      n = 0
    }
    list = rest
  }
}
