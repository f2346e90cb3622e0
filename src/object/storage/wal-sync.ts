// Group commit for a SQLite database in WAL mode without blocking the event loop.
//
// better-sqlite3 is synchronous: with synchronous=FULL every COMMIT fsyncs the WAL on the main
// thread, so each batch of container updates stalled every request of the process for a disk
// flush (3–5 ms here; it was a quarter of the object server's wall time under load). Instead,
// queued row merges commit with synchronous=NORMAL (consistent, but not yet durable), and a
// WalSync fsyncs the -wal file on libuv's thread pool; a merge is acknowledged only once an
// fsync that *started after its commit* has finished. Merges that commit while one fsync runs
// share the next one, so the number of flushes adapts to the disk's speed.
//
// This is exactly the durability synchronous=FULL gives (an fsync of the WAL after the commit
// frame is written), moved off the main thread. SQLite keeps the database consistent across a
// crash in NORMAL mode (it syncs the WAL before and the database after each checkpoint), and a
// WAL file is removed only after a completed, synced checkpoint.
import { closeSync, fdatasyncSync, openSync } from 'node:fs'
import { type FileHandle, open } from 'node:fs/promises'

interface Waiter { resolve: () => void; reject: (err: unknown) => void }

function isMissing(err: unknown): boolean {
  return (err as NodeJS.ErrnoException)?.code === 'ENOENT'
}

/** Serialised, shared fsyncs of one database's -wal file. */
export class WalSync {
  private readonly walPath: string
  private waiting: Waiter[] = []
  /** Waiters of the fsync in progress. */
  private inflight: Waiter[] = []
  private running = false
  private fh?: Promise<FileHandle | null>
  private closed = false

  constructor(dbPath: string) {
    this.walPath = `${dbPath}-wal`
  }

  /** Resolves once the WAL is durably on disk as of now (after an fsync that starts later). */
  sync(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ resolve, reject })
      if (!this.running) void this.run()
    })
  }

  private handle(): Promise<FileHandle | null> {
    // Kept open: while the connection is open SQLite keeps (and only truncates or rewrites)
    // the same -wal file, so one descriptor serves every sync.
    this.fh ??= open(this.walPath, 'r').catch((err: unknown) => {
      this.fh = undefined
      if (isMissing(err)) return null
      throw err
    })
    return this.fh
  }

  private async run(): Promise<void> {
    this.running = true
    while (this.waiting.length && !this.closed) {
      const batch = this.waiting
      this.waiting = []
      this.inflight = batch
      try {
        const fh = await this.handle()
        // No -wal file: nothing was committed in WAL mode yet, or the last connection closed
        // after a full (synced) checkpoint. Either way there is nothing left to flush.
        if (fh) await fh.datasync()
        for (const w of batch) w.resolve()
      } catch (err) {
        // After closeSync these waiters were settled by its own sync (the handle is gone).
        if (!this.closed) for (const w of batch) w.reject(err)
      }
      this.inflight = []
    }
    this.running = false
  }

  /**
   * Syncs now, on this thread, settling every waiter; then releases the descriptor. Called
   * before the connection closes (closing may remove the -wal file).
   */
  closeSync(): void {
    if (this.closed) return
    this.closed = true
    const waiters = [...this.inflight, ...this.waiting]
    this.waiting = []
    let failure: unknown
    try {
      const fd = openSync(this.walPath, 'r')
      try { fdatasyncSync(fd) } finally { closeSync(fd) }
    } catch (err) {
      if (!isMissing(err)) failure = err
    }
    for (const w of waiters) failure === undefined ? w.resolve() : w.reject(failure)
    const fh = this.fh
    this.fh = undefined
    void fh?.then((h) => h?.close()).catch(() => {})
  }
}
