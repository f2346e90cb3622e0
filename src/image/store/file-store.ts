import { randomBytes } from 'node:crypto'
import { createReadStream, createWriteStream } from 'node:fs'
import { mkdir, open, rename, stat, unlink } from 'node:fs/promises'
import { join, resolve, sep } from 'node:path'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { type ByteRange, ImageDataNotFound, type ImageStore, ImageStoreFull, type StoredData } from './image-store.ts'

/**
 * Image data as files in one directory (glance_store's `file` driver): DIR/<image id>.
 * A write goes to a temporary file that is fsynced, renamed into place and made durable by an
 * fsync of the directory, so a crash leaves either the whole image or nothing.
 */
export class FileImageStore implements ImageStore {
  readonly kind = 'file'
  private readonly root: string
  private ready: Promise<void> | undefined

  constructor(dir: string) { this.root = resolve(dir) }

  async put(id: string, data: Readable): Promise<StoredData> {
    if (!/^[A-Za-z0-9-]+$/.test(id)) throw new Error(`bad image id for the file store: ${id}`)
    await this.init()
    const final = join(this.root, id)
    const tmp = join(this.root, `.${id}.${randomBytes(6).toString('hex')}.tmp`)
    // flush: the file is fsynced before the stream reports it closed.
    const out = createWriteStream(tmp, { flags: 'wx', mode: 0o600, flush: true })
    let size: number
    try {
      await pipeline(data, out)
      size = out.bytesWritten
    } catch (err) {
      // The file may still be opening: wait until the stream is closed, or it would be created
      // after the unlink below and stay behind.
      if (!out.closed) await new Promise<void>((r) => { out.once('close', () => r()); out.destroy() })
      await unlink(tmp).catch(() => {})
      const code = (err as NodeJS.ErrnoException).code
      if (code === 'ENOSPC' || code === 'EDQUOT') throw new ImageStoreFull('Image storage media is full.', { cause: err })
      throw err
    }
    await rename(tmp, final)
    await this.syncDir()
    return { location: `file://${final}`, size }
  }

  async get(location: string, range?: ByteRange): Promise<Readable> {
    const path = this.pathOf(location)
    let size: number
    try { size = (await stat(path)).size } catch { throw new ImageDataNotFound(location) }
    const start = Math.min(range?.offset ?? 0, size)
    const end = range?.length !== undefined ? start + range.length - 1 : size - 1
    // Nothing to read (an empty image, or a range at its very end): an empty stream.
    if (end < start) return Readable.from([])
    return createReadStream(path, { start, end })
  }

  async delete(location: string): Promise<void> {
    try { await unlink(this.pathOf(location)) } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
    }
  }

  /** The file a location names; only files in this store's directory are ever touched. */
  private pathOf(location: string): string {
    if (!location.startsWith('file://')) throw new ImageDataNotFound(location)
    const path = resolve(location.slice('file://'.length))
    if (!path.startsWith(this.root + sep)) throw new ImageDataNotFound(location)
    return path
  }

  private init(): Promise<void> {
    this.ready ??= mkdir(this.root, { recursive: true, mode: 0o700 }).then(() => undefined)
    return this.ready
  }

  private async syncDir(): Promise<void> {
    const d = await open(this.root, 'r')
    try { await d.sync() } catch { /* some filesystems cannot fsync a directory */ } finally { await d.close() }
  }
}
