import { Transform, type Readable, type TransformCallback } from 'node:stream'
import { createHash } from 'node:crypto'
import { CloudError } from '../core/errors.ts'
import { type ImageCtx, type Req, nowIso } from './context.ts'
import { DataMismatch, type Digests, type Expected, HashingStream, SizeLimitExceeded } from './hashing.ts'
import { setProperty, transition } from './images-store.ts'
import { type ImageStatus, checkFormatsSet, checkTransition } from './model.ts'
import { STAGED_AT, loadImage } from './service.ts'
import { ImageDataNotFound, type ImageStore, ImageStoreFull, type StoredData } from './store/image-store.ts'

// Image data: upload (PUT /file), download (GET /file) and staging (PUT /stage), as
// glance/api/v2/image_data.py. Bytes stream from the client through a HashingStream into the
// store and back; nothing holds a whole image in memory.

/** The SDK's record of the digests of the file it uploads (`openstack image create --file`). */
const OWNER_MD5 = 'owner_specified.openstack.md5'
const OWNER_SHA256 = 'owner_specified.openstack.sha256'

/** What a client declared about an upload: its size (header) and, through the SDK, its digests. */
export interface UploadInfo { size?: number }

/**
 * Streams `data` through a HashingStream into `store`. Errors from the client stream, the limit
 * or a mismatch reach the store before it commits, so a failed write leaves nothing behind.
 */
export async function hashInto(store: ImageStore, id: string, data: Readable, limit: number, expected: Expected):
  Promise<StoredData & { digests: Digests }> {
  const hasher = new HashingStream(limit, expected)
  data.on('error', (err) => hasher.destroy(err))
  data.on('aborted', () => hasher.destroy(new Error('the client closed the connection during the upload')))
  data.pipe(hasher)
  const stored = await store.put(id, hasher)
  return { ...stored, digests: hasher.digests }
}

/** Glance's HTTP answer to a failed data write. */
export function dataError(err: unknown): CloudError {
  if (err instanceof CloudError) return err
  if (err instanceof SizeLimitExceeded) return new CloudError('PayloadTooLarge', err.message)
  if (err instanceof ImageStoreFull) return new CloudError('PayloadTooLarge', `Image storage media is full: ${err.message}`)
  if (err instanceof DataMismatch) return new CloudError('BadRequest', err.message)
  const code = (err as NodeJS.ErrnoException)?.code
  if (code === 'ECONNRESET' || code === 'ERR_STREAM_PREMATURE_CLOSE' || /client closed/.test(String((err as Error)?.message))) {
    return new CloudError('BadRequest', 'The image data was not received completely.', 'BadRequest', { cause: err })
  }
  return new CloudError('Internal', 'An unexpected error prevented the server from storing the image data.', 'Internal', { cause: err })
}

async function moveStatus(c: ImageCtx, id: string, current: ImageStatus, to: ImageStatus): Promise<void> {
  checkTransition(current, to)
  if (!(await transition(c.db, id, [current], { status: to }, nowIso(c)))) {
    throw new CloudError('Conflict', `Image status transition from ${current} to ${to} is not allowed`)
  }
}

/** PUT /v2/images/{id}/file: stores the data and makes the image active. */
export async function uploadImage(c: ImageCtx, r: Req, id: string, data: Readable, info: UploadInfo): Promise<void> {
  const { image, isMember } = await loadImage(c, r, id)
  r.policy.enforceImage('upload_image', image, isMember, `Not allowed to upload image data for image ${id}`)
  checkFormatsSet(image)
  await moveStatus(c, id, image.status, 'saving')
  const expected: Expected = { size: info.size, md5: image.properties[OWNER_MD5] || undefined,
    sha256: image.properties[OWNER_SHA256] || undefined }
  let stored: StoredData & { digests: Digests }
  try {
    stored = await hashInto(c.store, id, data, c.config.imageSizeCap, expected)
  } catch (err) {
    // Back to queued, so the client can try again (Glance's _restore).
    await transition(c.db, id, ['saving'], { status: 'queued', size: null, virtual_size: null }, nowIso(c))
    throw dataError(err)
  }
  const d = stored.digests
  const ok = await transition(c.db, id, ['saving'], { status: 'active', size: d.size, checksum: d.md5,
    os_hash_algo: 'sha512', os_hash_value: d.sha512, location: stored.location }, nowIso(c))
  if (!ok) {
    await c.store.delete(stored.location).catch(() => {})
    throw new CloudError('Gone', `Image ${id} could not be found after upload. The image may have been deleted during the upload, cleaning up the chunks uploaded.`)
  }
}

/** PUT /v2/images/{id}/stage: keeps the data aside for a later `glance-direct` import. */
export async function stageImage(c: ImageCtx, r: Req, id: string, data: Readable, info: UploadInfo): Promise<void> {
  if (!c.config.importMethods.includes('glance-direct')) {
    throw new CloudError('NotFound', "'glance-direct' method is not available at this site.")
  }
  const { image, isMember } = await loadImage(c, r, id)
  r.policy.enforceImage('modify_image', image, isMember)
  await moveStatus(c, id, image.status, 'uploading')
  let stored: StoredData
  try {
    stored = await hashInto(c.staging, id, data, c.config.imageSizeCap, { size: info.size })
  } catch (err) {
    await transition(c.db, id, ['uploading'], { status: 'queued', size: null }, nowIso(c))
    throw dataError(err)
  }
  if (!(await transition(c.db, id, ['uploading'], { size: stored.size }, nowIso(c)))) {
    await c.staging.delete(stored.location).catch(() => {})
    throw new CloudError('Gone', `Image ${id} could not be found after staging; it may have been deleted meanwhile.`)
  }
  await setProperty(c.db, id, STAGED_AT, stored.location)
}

/** What GET /file sends: 204 without data, else 200 or 206 with a stream. */
export interface Download {
  status: 200 | 204 | 206
  headers: Record<string, string>
  body?: Readable
}

/** GET /v2/images/{id}/file, with an optional `Range: bytes=…` header. */
export async function downloadImage(c: ImageCtx, r: Req, id: string, rangeHeader?: string): Promise<Download> {
  const { image, isMember } = await loadImage(c, r, id)
  if (image.status === 'deactivated' && !r.caller.admin) {
    throw new CloudError('Forbidden', 'The requested image has been deactivated. Image data download is forbidden.')
  }
  r.policy.enforceImage('download_image', image, isMember)
  if (!image.location || image.size === null) return { status: 204, headers: {} }
  const size = image.size
  const range = rangeHeader ? parseRange(rangeHeader, size) : undefined
  let body: Readable
  try {
    body = await c.store.get(image.location, range ? { offset: range.start, length: range.end - range.start + 1 } : undefined)
  } catch (err) {
    if (err instanceof ImageDataNotFound) return { status: 204, headers: {} }
    throw err
  }
  const headers: Record<string, string> = { 'content-type': 'application/octet-stream' }
  if (image.checksum) headers['content-md5'] = image.checksum
  if (range) {
    headers['content-range'] = `bytes ${range.start}-${range.end}/${size}`
    headers['content-length'] = String(range.end - range.start + 1)
    return { status: 206, headers, body }
  }
  headers['content-length'] = String(size)
  // A whole download is checked against the checksum on the way out (bit rot on disk).
  const verified = image.checksum ? body.pipe(new VerifyingStream(image.checksum, c, id)) : body
  body.on('error', (err) => verified.destroy(err))
  return { status: 200, headers, body: verified }
}

/** Parses a single `bytes=` range (Glance honours one range); 416 when it cannot be satisfied. */
export function parseRange(header: string, size: number): { start: number; end: number } | undefined {
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim())
  if (!m || (m[1] === '' && m[2] === '')) return undefined // not a range we understand: the whole image
  let start: number, end: number
  if (m[1] === '') { start = Math.max(0, size - Number(m[2])); end = size - 1 }
  else { start = Number(m[1]); end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1) }
  if (start >= size || start > end) {
    throw new CloudError('RangeNotSatisfiable', 'Requested range not satisfiable', 'RangeNotSatisfiable',
      { headers: { 'content-range': `bytes */${size}` } })
  }
  return { start, end }
}

/**
 * Passes data through and holds back the last chunk until the MD5 of everything matches the
 * image's checksum: a corrupt image ends short of its Content-Length, so clients notice.
 */
class VerifyingStream extends Transform {
  private readonly md5 = createHash('md5')
  private held: Buffer | undefined
  constructor(private readonly checksum: string, private readonly c: ImageCtx, private readonly id: string) { super() }
  override _transform(chunk: Buffer, _e: BufferEncoding, done: TransformCallback): void {
    this.md5.update(chunk)
    const prev = this.held
    this.held = chunk
    done(null, prev)
  }
  override _flush(done: TransformCallback): void {
    const got = this.md5.digest('hex')
    if (got !== this.checksum) {
      this.c.log.error({ image: this.id, expected: this.checksum, got }, 'image data does not match its checksum')
      return done(new Error(`image ${this.id}: stored data does not match its checksum`))
    }
    done(null, this.held)
  }
}
