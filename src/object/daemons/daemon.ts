// What every background daemon of the object store shares (Swift's swift/common/daemon.py):
// one full pass on demand (`runOnce`), or passes repeated every interval (`start`/`stop`).
// Passes never overlap; `stop` aborts the pass in progress at its next checkpoint and waits
// for it, so a shutdown never leaves a half-written file behind a still-running daemon.
import type { StorageLogger } from '../storage/backend.ts'

/** A background daemon: one pass on demand, or a periodic loop. */
export interface Daemon<S> {
  readonly name: string
  /** Runs one full pass (after any pass in progress) and returns its counts. */
  runOnce(): Promise<S>
  /** Runs a pass now (or after `initialDelayMs`), then one every `intervalMs` after each pass ends. Timers are unref'd. */
  start(intervalMs: number, initialDelayMs?: number): void
  /** Stops the loop: the pass in progress is told to stop and awaited. */
  stop(): Promise<void>
  /** Counts of the last finished pass. */
  readonly lastStats?: S
}

/** Raised inside a pass when the daemon is stopping. */
export class StoppedError extends Error {
  override readonly name = 'StoppedError'
  constructor() { super('daemon stopping') }
}

/** Throws StoppedError once `signal` is aborted: passes call it between units of work. */
export function checkStopped(signal: AbortSignal): void {
  if (signal.aborted) throw new StoppedError()
}

/**
 * Resolves after `ms`, or early (without error) when `signal` aborts. The timer keeps the process
 * alive: a pass someone awaits (runOnce from a command) must not be cut short by an exit.
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (ms <= 0 || signal?.aborted) return Promise.resolve()
  return new Promise((resolve) => {
    const done = () => { clearTimeout(timer); signal?.removeEventListener('abort', done); resolve() }
    const timer = setTimeout(done, ms)
    signal?.addEventListener('abort', done, { once: true })
  })
}

/**
 * Base class of the daemons: subclasses implement `pass(signal)`. Passes are serialized; a
 * failing pass is logged by the loop (and rejects a direct `runOnce`).
 */
export abstract class PeriodicDaemon<S> implements Daemon<S> {
  lastStats?: S
  private chain: Promise<unknown> = Promise.resolve()
  private controller = new AbortController()
  private timer?: NodeJS.Timeout
  private looping = false

  constructor(readonly name: string, protected readonly log?: StorageLogger) {}

  /** One full pass; checks `signal` between units of work (see checkStopped). */
  protected abstract pass(signal: AbortSignal): Promise<S>

  runOnce(): Promise<S> {
    const run = this.chain.then(async () => {
      const signal = this.controller.signal
      const stats = await this.pass(signal)
      this.lastStats = stats
      return stats
    })
    this.chain = run.catch(() => {})
    return run
  }

  start(intervalMs: number, initialDelayMs = 0): void {
    if (this.looping) return
    if (!(intervalMs > 0)) throw new RangeError(`${this.name}: interval must be positive`)
    if (this.controller.signal.aborted) this.controller = new AbortController()
    this.looping = true
    const tick = async () => {
      this.timer = undefined
      const began = Date.now()
      try {
        const stats = await this.runOnce()
        this.log?.info({ daemon: this.name, stats, ms: Date.now() - began }, `${this.name} pass done`)
      } catch (err) {
        if (!(err instanceof StoppedError)) this.log?.error({ err, daemon: this.name }, `${this.name} pass failed`)
      }
      if (!this.looping) return
      // The interval is the period between pass starts, as Swift's run_forever sleeps the rest of it.
      this.timer = setTimeout(tick, Math.max(0, intervalMs - (Date.now() - began)))
      this.timer.unref()
    }
    this.timer = setTimeout(tick, Math.max(0, initialDelayMs))
    this.timer.unref()
  }

  async stop(): Promise<void> {
    this.looping = false
    if (this.timer) clearTimeout(this.timer)
    this.timer = undefined
    this.controller.abort()
    await this.chain
    this.controller = new AbortController()
  }
}
