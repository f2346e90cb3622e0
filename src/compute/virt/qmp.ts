// A small QMP (QEMU Machine Protocol) client over a unix socket: one JSON object per line,
// `qmp_capabilities` first, then commands answered in order, with asynchronous events between.
import { connect, type Socket } from 'node:net'

/** A QMP error reply, or a connection that closed before the reply. */
export class QmpError extends Error {
  override readonly name = 'QmpError'
  constructor(message: string, readonly errorClass?: string) { super(message) }
}

/** An asynchronous event from QEMU, e.g. SHUTDOWN, STOP, RESUME, DEVICE_DELETED. */
export interface QmpEvent {
  event: string
  data?: Record<string, unknown>
}

interface Pending { resolve(v: unknown): void; reject(e: Error): void }

/** One QMP session. Commands are sent one at a time; replies come back in order. */
export class QmpClient {
  readonly #sock: Socket
  readonly #pending: Pending[] = []
  readonly #events: QmpEvent[] = []
  readonly #waiters = new Set<(e: QmpEvent) => void>()
  #buf = ''
  #closed = false

  private constructor(sock: Socket) {
    this.#sock = sock
    sock.setEncoding('utf8')
    sock.on('data', (d: string) => this.#onData(d))
    sock.on('error', () => {})  // reported through 'close' to whoever waits
    sock.on('close', () => {
      this.#closed = true
      for (const p of this.#pending.splice(0)) p.reject(new QmpError('QMP connection closed'))
    })
  }

  /** Connects to a QMP socket and negotiates capabilities; fails after `timeoutMs`. */
  static async connect(path: string, timeoutMs = 5000): Promise<QmpClient> {
    const sock = connect(path)
    const client = new QmpClient(sock)
    // The greeting ({"QMP": …}) is answered like a command reply, so queue a slot for it.
    const greeting = new Promise((resolve, reject) => client.#pending.push({ resolve, reject }))
    const timer = setTimeout(() => sock.destroy(new Error('QMP connect timed out')), timeoutMs)
    try {
      await new Promise<void>((resolve, reject) => {
        sock.once('connect', resolve)
        sock.once('error', reject)
      })
      await greeting
      await client.execute('qmp_capabilities')
      return client
    } catch (e) {
      sock.destroy()
      throw new QmpError(`QMP at ${path}: ${(e as Error).message}`)
    } finally {
      clearTimeout(timer)
    }
  }

  /** Runs one command and returns its `return` value. */
  execute<T = unknown>(command: string, args?: Record<string, unknown>): Promise<T> {
    if (this.#closed) return Promise.reject(new QmpError('QMP connection closed'))
    return new Promise<T>((resolve, reject) => {
      this.#pending.push({ resolve: resolve as (v: unknown) => void, reject })
      this.#sock.write(JSON.stringify(args ? { execute: command, arguments: args } : { execute: command }) + '\n')
    })
  }

  /** Resolves with the first event named `name` seen on this session (also one seen already). */
  waitEvent(name: string, timeoutMs: number): Promise<QmpEvent> {
    const seen = this.#events.find((e) => e.event === name)
    if (seen) return Promise.resolve(seen)
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => { this.#waiters.delete(on); reject(new QmpError(`no ${name} event in ${timeoutMs} ms`)) }, timeoutMs)
      const on = (e: QmpEvent) => {
        if (e.event !== name) return
        clearTimeout(timer); this.#waiters.delete(on); resolve(e)
      }
      this.#waiters.add(on)
    })
  }

  /** Resolves when QEMU closes the socket (it exits), or after `timeoutMs` with false. */
  waitClosed(timeoutMs: number): Promise<boolean> {
    if (this.#closed) return Promise.resolve(true)
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs)
      this.#sock.once('close', () => { clearTimeout(timer); resolve(true) })
    })
  }

  close(): void {
    this.#sock.destroy()
  }

  #onData(d: string): void {
    this.#buf += d
    let nl: number
    while ((nl = this.#buf.indexOf('\n')) >= 0) {
      const line = this.#buf.slice(0, nl).trim()
      this.#buf = this.#buf.slice(nl + 1)
      if (line) this.#onMessage(JSON.parse(line) as Record<string, unknown>)
    }
  }

  #onMessage(m: Record<string, unknown>): void {
    if (typeof m.event === 'string') {
      const e: QmpEvent = { event: m.event, data: m.data as Record<string, unknown> | undefined }
      this.#events.push(e)
      for (const w of [...this.#waiters]) w(e)
      return
    }
    const p = this.#pending.shift()
    if (!p) return
    if ('error' in m) {
      const err = m.error as { class?: string; desc?: string }
      p.reject(new QmpError(err.desc ?? 'QMP error', err.class))
    } else {
      p.resolve('QMP' in m ? m.QMP : m.return)
    }
  }
}
