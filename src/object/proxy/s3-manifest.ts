// Multipart manifests of the S3 layer are Swift SLO manifests (slo-manifest.ts), stored as
// s3api stores them: the SLO's rows `[{"name": "/<container>/<object>", "bytes", "hash"}]` with
// X-Static-Large-Object, the SLO's ETag and size in sysmeta (what a Swift GET or HEAD shows),
// S3's multipart ETag in its own sysmeta, swift_bytes in the Content-Type, and a listing row
// whose hash carries `s3_etag` and `slo_etag`. Reads, from either API, stream the segments with
// the one segment streamer (slo-segments.ts), each checked against the ETag it had when the
// upload completed, so a replaced part cuts the stream instead of serving other bytes.
import { createHash } from 'node:crypto'
import type { Readable } from 'node:stream'
import type { ManifestSegment, MultipartManifest } from '../s3/port.ts'
import type { BackendResponse } from '../storage/backend.ts'
import { extractSwiftBytes } from '../storage/container-rows.ts'
import { isTrue } from '../storage/storage-util.ts'
import { SLO_ETAG as SYSMETA_SLO_ETAG, SLO_SIZE as SYSMETA_SLO_SIZE, type SloRow, annotate, manifestJson, parseStoredManifest,
  sloEtag, splitSegmentName } from './slo-manifest.ts'
import { sloPieces } from './slo-pieces.ts'
import { bodyStream, streamPieces } from './slo-segments.ts'

/** Sysmeta of an S3-completed manifest: the multipart ETag (`<md5>-<parts>`), as s3api's X-Object-Sysmeta-S3Api-Etag. */
export const S3_ETAG = 'x-object-sysmeta-s3api-etag'
/** The SLO's ETag and size sysmeta (Swift's). */
export const SLO_ETAG = SYSMETA_SLO_ETAG
export const SLO_SIZE = SYSMETA_SLO_SIZE
/** Backend hint that makes the object server answer a manifest whole, whatever the Range. */
export const IGNORE_RANGE = { 'x-backend-ignore-range-if-metadata-present': 'x-static-large-object' }

const rowsOf = (m: MultipartManifest): SloRow[] => m.segments.map((s) => ({ name: `/${s.container}/${s.object}`, bytes: s.bytes, hash: s.etag }))

/** The stored body of a manifest (Swift's SLO manifest format, as Swift writes it). */
export function manifestBody(m: MultipartManifest): Buffer {
  return manifestJson(rowsOf(m))
}

/**
 * The headers that make a stored object the SLO of `m`: Swift reads it as its segments, S3 as
 * its multipart ETag, and the listing row shows the total size and both ETags.
 */
export function manifestHeaders(m: MultipartManifest, contentType: string): Record<string, string> {
  const slo = sloEtag(rowsOf(m))
  return {
    'content-type': `${contentType};swift_bytes=${m.bytes}`,
    'x-static-large-object': 'True',
    [SLO_ETAG]: slo, [SLO_SIZE]: String(m.bytes), [S3_ETAG]: m.etag,
    'x-object-sysmeta-container-update-override-etag':
      `${createHash('md5').update(manifestBody(m)).digest('hex')}; s3_etag=${m.etag}; slo_etag=${slo}`,
  }
}

/** Whether an object answer is an SLO manifest's. */
export const isManifest = (h: Record<string, string>) => isTrue(h['x-static-large-object'])

/** The ETag S3 shows for an object answer: the multipart ETag, else an SLO's, else the body's MD5. */
export function s3Etag(h: Record<string, string>): string {
  if (isManifest(h)) return h[S3_ETAG] ?? h[SLO_ETAG] ?? ''
  return (h.etag ?? '').replace(/^"(.*)"$/, '$1')
}

/** A Content-Type without the swift_bytes a manifest's carries. */
export const cleanContentType = (ct: string) => (ct.includes('swift_bytes') ? extractSwiftBytes(ct)[0] : ct)

/** The S3 ETag of a listing row's hash ("<md5>; s3_etag=<etag>; slo_etag=<etag>" for manifests). */
export function listingEtag(hash: string): string {
  if (!hash.includes(';')) return hash
  const params = new Map(hash.split(';').slice(1).map((p) => { const [k, v] = p.split('='); return [k!.trim(), (v ?? '').trim()] as const }))
  return params.get('s3_etag') ?? params.get('slo_etag') ?? hash.split(';')[0]!.trim()
}

/** Parses a stored manifest body back (etag and size come from the object's sysmeta); data and nested rows are left out. */
export function parseManifest(body: Buffer, etag: string, bytes: number): MultipartManifest {
  const segments: ManifestSegment[] = []
  for (const r of parseStoredManifest(body)) {
    const where = splitSegmentName(r.name)
    if (where && r.data === undefined) segments.push({ container: where[0], object: where[1], etag: String(r.hash), bytes: Number(r.bytes) })
  }
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

/** How a segment or nested manifest is read as stored: GET with the given headers (a Range when only part is needed). */
export type SegmentReader = (container: string, object: string, headers: Record<string, string>) => Promise<BackendResponse>

/**
 * Streams bytes [start, end] (inclusive) of a stored manifest's large object — ranged segments,
 * inline data and nested manifests as Swift reads them. The stream fails as soon as a segment
 * no longer has the ETag and size the manifest recorded.
 */
export function streamSegments(manifest: Buffer, start: number, end: number, read: SegmentReader, name: string): Readable {
  const segments = annotate(parseStoredManifest(manifest))
  const fetchSub = async (c: string, o: string) => {
    const r = await read(c, o, IGNORE_RANGE)
    const body = await readAll(r)
    if (r.status < 200 || r.status >= 300 || !isManifest(r.headers)) throw new Error(`nested manifest /${c}/${o} is missing (status ${r.status})`)
    return parseStoredManifest(body)
  }
  const fetchSeg = (c: string, o: string, range: string | undefined) => read(c, o, range ? { range } : {})
  return bodyStream(streamPieces(sloPieces(segments, [[start, end]], fetchSub, name), fetchSeg, { name, expectedLength: end - start + 1 }))
}
