// An object body read from its file, as a Readable that can stream at memory speed.
//
// fs.createReadStream allocates a fresh buffer for every read. On these VMs first-touching new
// memory is the expensive part of a read (page faults under paravirtualised page tables: a
// cached 256 MiB file streamed at 0.15–0.5 GB/s with fresh 1 MiB buffers, at 5–9 GB/s with
// reused ones). So when the body is piped straight into an HTTP message (Fastify's reply.send
// and stream.pipeline both pipe), FileBody pumps the file through a small ring of buffers
// itself: a buffer is read into again only after the message's write callback said its bytes
// were handed to the socket. Any other consumer (async iteration, 'data' listeners, a Transform,
// whose write callback comes while it still holds the chunk) gets the plain Readable behaviour
// with one fresh buffer per chunk, which is always safe.
import { OutgoingMessage } from 'node:http'
import { Readable, type Writable } from 'node:stream'
import type { FdFile } from './fd-file.ts'

/** Buffers a piped body cycles through: reads run ahead of the socket by at most this many chunks. */
const RING = 4

/** A byte range [start, end) of an open file as a stream; the handle stays the caller's to close. */
export class FileBody extends Readable {
  private pos: number
  private pumping = false
  /** The read in progress, so destroy() can wait for it before the handle may be closed. */
  private reading?: Promise<unknown>

  constructor(private readonly fh: FdFile, start: number, private readonly end: number, private readonly chunk: number) {
    super({ highWaterMark: Math.max(1, Math.min(chunk, end - start)) })
    this.pos = start
  }

  /** True once piped through the ring of reused buffers (rather than read chunk by chunk). */
  get pumped(): boolean {
    return this.pumping
  }

  /** Reads the next chunk into `buf`; fails on a file shorter than its range. */
  private async readInto(buf: Buffer): Promise<number> {
    const want = Math.min(buf.length, this.end - this.pos)
    const p = this.fh.read(buf, 0, want, this.pos)
    this.reading = p
    const bytesRead = await p
    this.reading = undefined
    if (bytesRead === 0) throw new Error(`file ended ${this.end - this.pos} bytes early`)
    this.pos += bytesRead
    return bytesRead
  }

  override _read(): void {
    if (this.pumping) return
    if (this.pos >= this.end) { this.push(null); return }
    const buf = Buffer.allocUnsafeSlow(Math.min(this.chunk, this.end - this.pos))
    this.readInto(buf).then((n) => { this.push(n === buf.length ? buf : buf.subarray(0, n)) },
      (err: Error) => this.destroy(err))
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    // 'close' (after which the owner closes the handle) must not come while a read still uses it.
    const r = this.reading
    if (r) void r.then(() => cb(err), () => cb(err))
    else cb(err)
  }

  override pipe<T extends NodeJS.WritableStream>(dest: T, opts?: { end?: boolean }): T {
    // Only a stream nobody has started reading can take the fast path, and only into an HTTP
    // message: its write callback means the socket has the bytes (the buffer is free again).
    if (!(dest instanceof OutgoingMessage) || this.pumping || this.readableFlowing !== null || this.readableLength > 0 ||
      this.destroyed) return super.pipe(dest, opts)
    this.pumping = true
    dest.emit('pipe', this)
    void this.pump(dest as unknown as Writable, opts?.end !== false)
    return dest
  }

  /** Copies the range to `dest` through a ring of reused buffers (see the file comment). */
  private async pump(dest: Writable, endDest: boolean): Promise<void> {
    const free: Buffer[] = []
    let made = 0
    let wake: (() => void) | undefined
    let gone = false
    const poke = () => { const w = wake; wake = undefined; w?.() }
    const onGone = () => { gone = true; poke() }
    dest.on('close', onGone)
    dest.on('error', onGone)
    dest.on('drain', poke)
    try {
      while (this.pos < this.end && !gone && !this.destroyed) {
        let buf = free.pop()
        if (!buf) {
          if (made < RING) { made++; buf = Buffer.allocUnsafeSlow(Math.min(this.chunk, this.end - this.pos)) } else {
            await new Promise<void>((resolve) => { wake = resolve })
            continue
          }
        }
        const n = await this.readInto(buf)
        if (gone || this.destroyed) break
        const b = buf
        const ok = dest.write(n === b.length ? b : b.subarray(0, n), (err) => {
          if (err) gone = true
          else free.push(b)
          poke()
        })
        // Past the destination's buffer: wait for it to drain (or for a buffer to come back).
        if (!ok && !gone) await new Promise<void>((resolve) => { wake = resolve })
      }
      if (gone || this.destroyed) {
        if (!this.destroyed) this.destroy()
        return
      }
      if (endDest) dest.end()
      // End as a Readable too ('end', then 'close'), for whoever waits on this stream.
      this.push(null)
      this.resume()
    } catch (err) {
      this.destroy(err as Error)
    } finally {
      dest.off('close', onGone)
      dest.off('error', onGone)
      dest.off('drain', poke)
    }
  }
}
