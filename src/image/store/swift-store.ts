import { createHash } from 'node:crypto'
import { Readable, Transform } from 'node:stream'
import type { ReadableStream as WebReadable } from 'node:stream/web'
import { type ByteRange, ImageDataNotFound, type ImageStore, ImageStoreFull, type StoredData } from './image-store.ts'

/** Options of a SwiftImageStore. */
export interface SwiftImageStoreOptions {
  /** The account's storage URL, e.g. http://127.0.0.1:8080/v1/AUTH_<project>. */
  storageUrl: string
  /** A token for the account; `renew` asks for a new one after a 401. */
  token: (renew: boolean) => Promise<string>
  /** The container image data goes to (glance_store's swift_store_container). Default `glance`. */
  container?: string
  /** Largest object the cluster takes (Swift's max_file_size); larger images are refused with 413. */
  maxObjectSize?: number
}

/**
 * Image data as objects in a Swift container, over the Swift API with a service token
 * (glance_store's single-tenant swift driver): one object per image, streamed both ways.
 * The object's ETag (MD5 computed by the object servers) is checked against the MD5 of what
 * was sent, so data damaged in transit is never recorded as stored.
 */
export class SwiftImageStore implements ImageStore {
  readonly kind = 'swift'
  private readonly base: string
  private containerReady = false

  constructor(private readonly o: SwiftImageStoreOptions) {
    this.base = `${o.storageUrl.replace(/\/+$/, '')}/${encodeURIComponent(o.container ?? 'glance')}`
  }

  async put(id: string, data: Readable): Promise<StoredData> {
    await this.ensureContainer()
    const url = `${this.base}/${encodeURIComponent(id)}`
    const md5 = createHash('md5')
    let size = 0
    const max = this.o.maxObjectSize ?? 5 * 1024 ** 3
    const counted = data.pipe(new Transform({
      transform(chunk: Buffer, _e, done) {
        size += chunk.length
        if (size > max) return done(new ImageStoreFull(`the object store takes objects of at most ${max} bytes`))
        md5.update(chunk)
        done(null, chunk)
      },
    }))
    data.on('error', (err) => counted.destroy(err))
    // A streamed body cannot be sent twice, so the token must be fresh before the upload starts.
    const token = await this.o.token(false)
    let res: Response
    try {
      res = await fetch(url, {
        method: 'PUT', headers: { 'x-auth-token': token, 'content-type': 'application/octet-stream' },
        body: Readable.toWeb(counted) as unknown as BodyInit, duplex: 'half',
      } as RequestInit)
    } catch (err) {
      // fetch wraps what went wrong (the client's stream, a size limit, the network) in its cause.
      throw (err as { cause?: unknown }).cause instanceof Error ? (err as { cause: Error }).cause : err
    }
    await res.body?.cancel()
    if (res.status === 413) throw new ImageStoreFull('the object store refused the image: too large')
    if (res.status === 507) throw new ImageStoreFull('the object store has no room for the image')
    if (res.status !== 201) throw new Error(`object store PUT ${url} answered ${res.status}`)
    const digest = md5.digest('hex')
    const etag = res.headers.get('etag')?.replace(/"/g, '')
    if (etag && etag !== digest) {
      await this.delete(`swift+${url}`).catch(() => {})
      throw new Error(`object store stored ${etag}, not the MD5 of the data sent (${digest})`)
    }
    return { location: `swift+${url}`, size }
  }

  async get(location: string, range?: ByteRange): Promise<Readable> {
    const url = this.urlOf(location)
    const headers: Record<string, string> = {}
    if (range) headers.range = `bytes=${range.offset}-${range.length !== undefined ? range.offset + range.length - 1 : ''}`
    const res = await this.call('GET', url, headers)
    if (res.status === 404) { await res.body?.cancel(); throw new ImageDataNotFound(location) }
    if ((res.status !== 200 && res.status !== 206) || !res.body) {
      await res.body?.cancel()
      throw new Error(`object store GET ${url} answered ${res.status}`)
    }
    return Readable.fromWeb(res.body as unknown as WebReadable<Uint8Array>)
  }

  async delete(location: string): Promise<void> {
    const res = await this.call('DELETE', this.urlOf(location))
    await res.body?.cancel()
    if (res.status !== 204 && res.status !== 404) throw new Error(`object store DELETE answered ${res.status}`)
  }

  /** The object URL of a location; only objects in this store's container are ever touched. */
  private urlOf(location: string): string {
    const url = location.startsWith('swift+') ? location.slice('swift+'.length) : ''
    if (!url.startsWith(`${this.base}/`)) throw new ImageDataNotFound(location)
    return url
  }

  /** A call without a body: retried once with a new token after a 401. */
  private async call(method: string, url: string, headers: Record<string, string> = {}): Promise<Response> {
    let res = await fetch(url, { method, headers: { ...headers, 'x-auth-token': await this.o.token(false) } })
    if (res.status === 401) {
      await res.body?.cancel()
      res = await fetch(url, { method, headers: { ...headers, 'x-auth-token': await this.o.token(true) } })
    }
    return res
  }

  private async ensureContainer(): Promise<void> {
    if (this.containerReady) return
    const res = await this.call('PUT', this.base)
    await res.body?.cancel()
    if (res.status !== 201 && res.status !== 202) throw new Error(`object store could not create container: ${res.status}`)
    this.containerReady = true
  }
}
