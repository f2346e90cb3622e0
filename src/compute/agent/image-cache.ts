import { createHash, randomBytes } from 'node:crypto'
import { createWriteStream } from 'node:fs'
import { mkdir, rename, rm, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { Transform } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { CloudError } from '../../core/errors.ts'
import type { GlanceClient } from '../clients/glance.ts'
import type { ImageRef } from '../virt/driver.ts'
import type { TokenProvider } from './control-client.ts'

// The host's cache of Glance images (the base images of root disks). A download goes to a
// temporary file, is checked against Glance's MD5 `checksum` and size, and only then renamed
// into place, so a file in the cache is always complete and verified. Concurrent spawns of the
// same image share one download.

/** The image facts the cache needs (AgentInstance.image). */
export interface CachedImageInfo {
  id: string; disk_format: string | null; checksum: string | null; size: number | null
}

/** An image the host cannot use; the spawn fails without reschedule (any host would refuse it). */
export class ImageUnacceptable extends CloudError {
  constructor(message: string) { super('BadRequest', message, 'ImageUnacceptable') }
}

/** Downloads and keeps verified copies of Glance images under `dir`. */
export class ImageCache {
  readonly #inFlight = new Map<string, Promise<ImageRef>>()
  /** How many downloads ran (for tests and logs). */
  downloads = 0

  constructor(private readonly dir: string, private readonly glance: GlanceClient, private readonly token: TokenProvider) {}

  /** The cached copy of `image`, downloading it first if needed. */
  async ensure(image: CachedImageInfo): Promise<ImageRef> {
    const format = image.disk_format
    if (format !== 'qcow2' && format !== 'raw') {
      throw new ImageUnacceptable(`Image ${image.id} is unacceptable: disk format ${format ?? 'none'} is not supported by this host (qcow2 or raw).`)
    }
    if (!/^[A-Za-z0-9-]+$/.test(image.id)) throw new ImageUnacceptable(`Image id ${image.id} is not valid.`)
    const path = join(this.dir, `${image.id}.${format}`)
    const have = await stat(path).catch(() => undefined)
    if (have) return { path, format }
    let p = this.#inFlight.get(image.id)
    if (!p) {
      p = this.#download(image, path, format).finally(() => this.#inFlight.delete(image.id))
      this.#inFlight.set(image.id, p)
    }
    return p
  }

  /** Removes a cached image (e.g. once Glance says it is gone); absent is fine. */
  async evict(imageId: string): Promise<void> {
    for (const f of ['qcow2', 'raw']) await rm(join(this.dir, `${imageId}.${f}`), { force: true })
  }

  async #download(image: CachedImageInfo, path: string, format: 'qcow2' | 'raw'): Promise<ImageRef> {
    await mkdir(this.dir, { recursive: true })
    const tmp = `${path}.part-${randomBytes(4).toString('hex')}`
    this.downloads++
    try {
      const md5 = createHash('md5')
      let size = 0
      const tap = new Transform({
        transform(chunk: Buffer, _enc, cb) { md5.update(chunk); size += chunk.length; cb(null, chunk) },
      })
      let body
      try {
        body = await this.glance.download(image.id, await this.token())
      } catch (e) {
        if (!isUnauthorized(e)) throw e
        body = await this.glance.download(image.id, await this.token({ renew: true }))
      }
      await pipeline(body, tap, createWriteStream(tmp))
      const sum = md5.digest('hex')
      if (image.checksum && sum !== image.checksum) {
        throw new CloudError('Conflict', `Image ${image.id} failed verification: its MD5 is ${sum}, Glance says ${image.checksum}.`, 'ImageCorrupt')
      }
      if (image.size !== null && image.size !== undefined && size !== image.size) {
        throw new CloudError('Conflict', `Image ${image.id} failed verification: ${size} bytes downloaded, Glance says ${image.size}.`, 'ImageCorrupt')
      }
      await rename(tmp, path)
      return { path, format }
    } catch (e) {
      await rm(tmp, { force: true })
      throw e
    }
  }
}

/** GlanceClient reports a refused token as an error whose message carries the 401. */
export function isUnauthorized(e: unknown): boolean {
  return e instanceof CloudError && (e.kind === 'Unauthorized' || /answered 401/.test(e.message))
}
