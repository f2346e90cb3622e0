import { Readable } from 'node:stream'
import type { ReadableStream as WebReadable } from 'node:stream/web'
import { CloudError, type Kind } from '../core/errors.ts'

/** An image as other services need it (a subset of the Glance v2 view, snake_case as on the wire). */
export interface ImageInfo {
  id: string
  name: string | null
  status: string
  visibility: string
  owner: string | null
  size: number | null
  checksum: string | null
  os_hash_algo: string | null
  os_hash_value: string | null
  disk_format: string | null
  container_format: string | null
  min_disk: number
  min_ram: number
  protected: boolean
  tags: string[]
  /** Free-form properties (hw_*, os_distro…) sit at the top level, as Glance shows them. */
  [property: string]: unknown
}

/** Options of an ImageClient. */
export interface ImageClientOptions {
  /** The image endpoint from the catalog, e.g. http://controller:9292. */
  url: string
  /** The token to call with (the user's, or a service token). */
  token: () => Promise<string>
}

const KINDS: Record<number, Kind> = { 400: 'BadRequest', 401: 'Unauthorized', 403: 'Forbidden', 404: 'NotFound', 409: 'Conflict', 413: 'PayloadTooLarge' }

/**
 * A typed client of the image API for other services (compute boots from images through it),
 * in all-in-one mode too, over loopback. Errors come back as CloudErrors with Glance's message.
 */
export class ImageClient {
  constructor(private readonly o: ImageClientOptions) {}

  /** GET /v2/images/{id}. */
  async show(id: string): Promise<ImageInfo> {
    const res = await this.call('GET', `/v2/images/${encodeURIComponent(id)}`)
    return await res.json() as ImageInfo
  }

  /** GET /v2/images with Glance's filters (name, status, visibility, tag…); one page. */
  async list(filters: Record<string, string> = {}): Promise<ImageInfo[]> {
    const q = new URLSearchParams(filters).toString()
    const res = await this.call('GET', `/v2/images${q ? `?${q}` : ''}`)
    return ((await res.json()) as { images: ImageInfo[] }).images
  }

  /**
   * Streams the image data (GET /v2/images/{id}/file), checked against Content-MD5 by the server
   * side already; null when the image has no data yet (Glance's 204).
   */
  async download(id: string): Promise<{ size: number; md5?: string; body: Readable } | null> {
    const res = await this.call('GET', `/v2/images/${encodeURIComponent(id)}/file`)
    if (res.status === 204 || !res.body) return null
    return { size: Number(res.headers.get('content-length')), md5: res.headers.get('content-md5') ?? undefined,
      body: Readable.fromWeb(res.body as unknown as WebReadable<Uint8Array>) }
  }

  private async call(method: string, path: string): Promise<Response> {
    const res = await fetch(`${this.o.url.replace(/\/+$/, '')}${path}`, { method,
      headers: { 'x-auth-token': await this.o.token(), accept: 'application/json' } })
    if (res.status < 400) return res
    let message = `image service answered ${res.status}`
    try { message = ((await res.json()) as { message?: string }).message ?? message } catch { /* not JSON */ }
    throw new CloudError(KINDS[res.status] ?? 'Unavailable', message)
  }
}
