// Multipart manifests for the S3 layer, stored as Swift's SLO stores them: the manifest object's
// body is the JSON segment list `[{"name": "/<container>/<object>", "hash", "bytes"}]`, its
// sysmeta names the S3 ETag and total size (Swift's X-Object-Sysmeta-Slo-Etag/-Size), and the
// container listing shows them through the container-update overrides (as s3api does).
// Reads stream the segments one after another, each checked against the ETag it had when the
// upload completed, so a replaced part cuts the stream instead of serving other bytes.
import { Readable } from 'node:stream'
import type { ManifestSegment, MultipartManifest } from '../s3/port.ts'
import type { BackendResponse } from '../storage/backend.ts'
import { discard } from './storage-client.ts'

/** Object sysmeta marking a manifest: its S3 ETag (also the value conditional requests compare). */
export const SLO_ETAG = 'x-object-sysmeta-slo-etag'
/** Object sysmeta of a manifest: the total size of its segments. */
export const SLO_SIZE = 'x-object-sysmeta-slo-size'

/** The stored body of a manifest (Swift's SLO manifest format). */
export function manifestBody(m: MultipartManifest): Buffer {
  return Buffer.from(JSON.stringify(m.segments.map((s) => ({ name: `/${s.container}/${s.object}`, hash: s.etag, bytes: s.bytes }))))
}

/** The headers that make a stored object a manifest and make its listing row show the S3 ETag/size. */
export function manifestHeaders(m: MultipartManifest): Record<string, string> {
  return {
    [SLO_ETAG]: m.etag, [SLO_SIZE]: String(m.bytes),
    'x-object-sysmeta-container-update-override-etag': m.etag,
    'x-object-sysmeta-container-update-override-size': String(m.bytes),
  }
}

/** Parses a stored manifest body back (etag and size come from the object's sysmeta). */
export function parseManifest(body: Buffer, etag: string, bytes: number): MultipartManifest {
  const rows = JSON.parse(body.toString('utf8')) as Array<{ name: string; hash: string; bytes: number }>
  const segments: ManifestSegment[] = rows.map((r) => {
    const slash = r.name.indexOf('/', 1)
    return { container: r.name.slice(1, slash), object: r.name.slice(slash + 1), etag: r.hash, bytes: r.bytes }
  })
  return { segments, etag, bytes }
}

/** Reads a whole (small) response body. */
export async function readAll(r: BackendResponse): Promise<Buffer> {
  if (!r.body) return Buffer.alloc(0)
  if (Buffer.isBuffer(r.body)) return r.body
  const chunks: Buffer[] = []
  for await (const c of r.body as AsyncIterable<Buffer>) chunks.push(c)
  return Buffer.concat(chunks)
}

/** How a segment is fetched: GET with the given headers (a Range when only part of it is needed). */
export type SegmentReader = (seg: ManifestSegment, headers: Record<string, string>) => Promise<BackendResponse>

/**
 * Streams bytes [start, end] (inclusive) of the manifest's concatenation. Each segment must
 * still have the manifest's ETag and size; otherwise the stream fails.
 */
export function streamSegments(m: MultipartManifest, start: number, end: number, read: SegmentReader): Readable {
  async function* gen(): AsyncGenerator<Buffer> {
    let offset = 0
    for (const seg of m.segments) {
      const segStart = offset
      offset += seg.bytes
      if (offset <= start || segStart > end || seg.bytes === 0) continue
      const from = Math.max(start, segStart) - segStart
      const to = Math.min(end, offset - 1) - segStart
      const partial = from > 0 || to < seg.bytes - 1
      const resp = await read(seg, partial ? { range: `bytes=${from}-${to}` } : {})
      const etag = (resp.headers.etag ?? '').replace(/^"(.*)"$/, '$1')
      const ok = partial ? resp.status === 206 : resp.status === 200
      if (!ok || etag !== seg.etag || (!partial && Number(resp.headers['content-length']) !== seg.bytes)) {
        discard(resp)
        throw new Error(`segment /${seg.container}/${seg.object} changed or is missing (status ${resp.status}, etag ${etag})`)
      }
      if (Buffer.isBuffer(resp.body)) { yield resp.body; continue }
      let got = 0
      for await (const c of resp.body as AsyncIterable<Buffer>) { got += c.length; yield c }
      if (got !== to - from + 1) throw new Error(`segment /${seg.container}/${seg.object} was short`)
    }
  }
  return Readable.from(gen(), { objectMode: false })
}
