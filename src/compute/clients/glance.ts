import { Readable } from 'node:stream'
import { CloudError } from '../../core/errors.ts'

// The small typed Glance v2 client Nova's parts use (the API to check an image at create and
// to make a snapshot's record, the agent to download and upload image bytes). Services talk
// to one another through their public REST APIs, in all-in-one mode too (DESIGN.md).

/** The fields of a Glance image that compute uses. */
export interface GlanceImage {
  id: string; name: string | null; status: string; visibility: string; owner: string | null
  size: number | null; checksum: string | null; disk_format: string | null; container_format: string | null
  min_ram: number; min_disk: number; protected: boolean; created_at: string; updated_at: string
  /** Every other attribute (image properties such as hw_disk_bus, os_distro, base_image_ref…). */
  [property: string]: unknown
}

/** Glance at `baseUrl` (the catalog's image endpoint, without /v2). */
export class GlanceClient {
  constructor(private readonly baseUrl: string) {}

  /** An image as `token`'s owner sees it, or undefined when Glance says 404. */
  async get(id: string, token: string): Promise<GlanceImage | undefined> {
    const r = await fetch(`${this.baseUrl}/v2/images/${encodeURIComponent(id)}`, { headers: { 'x-auth-token': token } })
    if (r.status === 404) return undefined
    await ok(r, `image ${id}`)
    return await r.json() as GlanceImage
  }

  /** The images `token`'s owner sees whose attributes equal `filters` (Glance's own filters, all pages). */
  async list(filters: Record<string, string>, token: string): Promise<GlanceImage[]> {
    const out: GlanceImage[] = []
    let next: string | undefined = `/v2/images?${new URLSearchParams({ ...filters, limit: '1000' })}`
    for (let pages = 0; next && pages < 100; pages++) {
      const r = await fetch(`${this.baseUrl}${next}`, { headers: { 'x-auth-token': token } })
      await ok(r, 'image list')
      const page = await r.json() as { images: GlanceImage[]; next?: string }
      out.push(...page.images)
      next = page.next
    }
    return out
  }

  /** Creates an image record (status queued). `meta` is Glance's create body. */
  async create(meta: Record<string, unknown>, token: string): Promise<GlanceImage> {
    const r = await fetch(`${this.baseUrl}/v2/images`, {
      method: 'POST', headers: { 'x-auth-token': token, 'content-type': 'application/json' }, body: JSON.stringify(meta),
    })
    await ok(r, 'image create')
    return await r.json() as GlanceImage
  }

  /** Deletes an image (used to clean up a snapshot that failed). 404 counts as done. */
  async delete(id: string, token: string): Promise<void> {
    const r = await fetch(`${this.baseUrl}/v2/images/${encodeURIComponent(id)}`, { method: 'DELETE', headers: { 'x-auth-token': token } })
    if (r.status !== 404) await ok(r, `image ${id} delete`)
  }

  /** Streams an image's bytes; Glance verifies size and checksums as it stores them. */
  async upload(id: string, body: Readable, token: string, size?: number): Promise<void> {
    const headers: Record<string, string> = { 'x-auth-token': token, 'content-type': 'application/octet-stream' }
    if (size !== undefined) headers['content-length'] = String(size)
    const r = await fetch(`${this.baseUrl}/v2/images/${encodeURIComponent(id)}/file`, {
      method: 'PUT', headers, body: Readable.toWeb(body) as ReadableStream, duplex: 'half',
    } as RequestInit)
    await ok(r, `image ${id} upload`)
  }

  /** The image's bytes as a stream (the caller verifies the checksum it expects). */
  async download(id: string, token: string): Promise<Readable> {
    const r = await fetch(`${this.baseUrl}/v2/images/${encodeURIComponent(id)}/file`, { headers: { 'x-auth-token': token } })
    await ok(r, `image ${id} download`)
    if (!r.body) throw new CloudError('Conflict', `Image ${id} has no data.`)
    return Readable.fromWeb(r.body as never)
  }
}

/** Turns a Glance error answer into a CloudError with Glance's message. */
async function ok(r: Response, what: string): Promise<void> {
  if (r.ok) return
  const text = await r.text().catch(() => '')
  const msg = `Glance answered ${r.status} for ${what}: ${text.slice(0, 300)}`
  if (r.status === 404) throw new CloudError('NotFound', msg)
  if (r.status === 403) throw new CloudError('Forbidden', msg)
  if (r.status === 409) throw new CloudError('Conflict', msg)
  if (r.status === 400 || r.status === 413) throw new CloudError('BadRequest', msg)
  throw new CloudError('Unavailable', msg)
}
