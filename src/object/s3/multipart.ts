// Multipart uploads, laid out as Swift's s3api lays them out, in the bucket's segments container
// `<bucket>+segments`:
//   <key>/<uploadId>               the upload marker: an empty object carrying the future object's
//                                  Content-Type, metadata, stored headers and ACL; its
//                                  Last-Modified is the upload's initiation time
//   <key>/<uploadId>/<nnnnn>       part n (zero-padded to 5 digits, so name order is part order)
// Completion checks the parts (order, ETags, minimum size) and stores a manifest object under the
// key (putManifest) whose ETag is S3's: md5 of the parts' binary MD5s, '-', the part count. The
// marker and any uploaded-but-unused parts are then removed, and so are the segments of the
// multipart object the key held before, if any.
import { createHash, randomBytes } from 'node:crypto'
import { cannedFromHeaders } from './acl.ts'
import { emptyBody, inBucket, NO_BUCKET } from './access.ts'
import { header, ownerOf, quoteEtag, send, sendXml, uploadAttributes, type Ctx } from './context.ts'
import { noSuchBucket, noSuchUpload, s3err } from './errors.ts'
import { segmentsContainer } from './names.ts'
import { deleteSegments, openCopySource } from './ops-object.ts'
import { listAll } from './ops-list.ts'
import type { S3Op } from './parse.ts'
import type { ManifestSegment, ObjectInfo } from './port.ts'
import { contentMd5, eachLimited, readDocument, uploadBody } from './requests.ts'
import { completeMultipartXml, copyResultXml, initiateMultipartXml, listPartsXml, listUploadsXml, urlEncodeName } from './xml.ts'
import { readCompleteMultipartUpload } from './xml-requests.ts'

const UPLOAD_ID = /^[0-9a-f]{32}$/
const PART_SUFFIX = /\/(\d{5})$/

const markerName = (key: string, uploadId: string) => `${key}/${uploadId}`
const partName = (key: string, uploadId: string, n: number) => `${key}/${uploadId}/${String(n).padStart(5, '0')}`

/** The account of a bucket the requester may write to, checked to exist. */
function writableBucket(ctx: Ctx, bucket: string): Promise<string> {
  return inBucket(ctx, bucket, 'write', async (t) => ((await ctx.s.storage.headBucket(t.account, bucket)) ? t.account : NO_BUCKET))
}

/** The upload's marker; NoSuchUpload when the upload is unknown (never begun, completed or aborted). */
async function uploadMarker(ctx: Ctx, account: string, bucket: string, key: string, uploadId: string): Promise<ObjectInfo> {
  if (!UPLOAD_ID.test(uploadId)) throw noSuchUpload(uploadId)
  const r = await ctx.s.storage.headObject(account, segmentsContainer(bucket), markerName(key, uploadId))
  if (r.status !== 'ok') throw noSuchUpload(uploadId)
  return r.info
}

/** CreateMultipartUpload. */
export async function createMultipartUpload(ctx: Ctx, bucket: string, key: string): Promise<void> {
  const attrs = uploadAttributes(ctx)
  const acl = cannedFromHeaders(ctx.req.headers, true)
  const account = await writableBucket(ctx, bucket)
  const segments = segmentsContainer(bucket)
  await ctx.s.storage.createBucket(account, segments, {})
  const uploadId = randomBytes(16).toString('hex')
  const r = await ctx.s.storage.putObject(account, segments, markerName(key, uploadId), emptyBody(),
    { ...attrs, contentLength: 0, sysmeta: acl ? { acl } : {} })
  if (r.status !== 'created') throw noSuchBucket(bucket)
  sendXml(ctx, 200, initiateMultipartXml(bucket, key, uploadId))
}

/** UploadPart. */
export async function uploadPart(ctx: Ctx, op: Extract<S3Op, { kind: 'UploadPart' }>): Promise<void> {
  const md5 = contentMd5(ctx)
  const body = uploadBody(ctx)
  const account = await writableBucket(ctx, op.bucket)
  await uploadMarker(ctx, account, op.bucket, op.key, op.uploadId)
  const r = await ctx.s.storage.putObject(account, segmentsContainer(op.bucket), partName(op.key, op.uploadId, op.partNumber),
    body.body, { contentType: 'application/octet-stream', contentLength: body.length, metadata: {}, ...(md5 ? { md5 } : {}) })
  if (r.status === 'no-bucket') throw noSuchUpload(op.uploadId)
  if (r.status === 'bad-digest') throw s3err('BadDigest', 'The Content-MD5 you specified did not match what we received.')
  if (r.status !== 'created') throw new Error(`upload part: unexpected put result ${r.status}`)
  const checksum = body.checksum()
  send(ctx, 200, undefined, { etag: quoteEtag(r.etag), ...(checksum ? { [checksum.header]: checksum.value } : {}) })
}

/** UploadPartCopy: a part made of (a range of) an existing object. */
export async function uploadPartCopy(ctx: Ctx, op: Extract<S3Op, { kind: 'UploadPartCopy' }>): Promise<void> {
  const account = await writableBucket(ctx, op.bucket)
  await uploadMarker(ctx, account, op.bucket, op.key, op.uploadId)
  const src = await openCopySource(ctx, op.source, op.sourceRange)
  const length = src.range ? src.range.end - src.range.start + 1 : src.info.bytes
  let consumed = false
  try {
    if (length > ctx.s.maxObjectSize) throw s3err('InvalidRequest', 'The specified copy range is larger than the maximum part size.')
    const r = await ctx.s.storage.putObject(account, segmentsContainer(op.bucket), partName(op.key, op.uploadId, op.partNumber),
      src.body, { contentType: 'application/octet-stream', contentLength: length, metadata: {} })
    consumed = r.status !== 'no-bucket'
    if (r.status !== 'created') throw noSuchUpload(op.uploadId)
    sendXml(ctx, 200, copyResultXml('CopyPartResult', r.etag, r.lastModified))
  } finally {
    if (!consumed) src.body.destroy()
  }
}

/** CompleteMultipartUpload. */
export async function completeMultipartUpload(ctx: Ctx, op: Extract<S3Op, { kind: 'CompleteMultipartUpload' }>): Promise<void> {
  const requested = readCompleteMultipartUpload(await readDocument(ctx, 4 * 1024 * 1024))
  const account = await writableBucket(ctx, op.bucket)
  const st = ctx.s.storage
  const segments = segmentsContainer(op.bucket)
  const location = `http://${header(ctx, 'host') ?? 'localhost'}/${op.bucket}/${urlEncodeName(op.key).replace(/%2F/g, '/')}`
  let marker: ObjectInfo
  try {
    marker = await uploadMarker(ctx, account, op.bucket, op.key, op.uploadId)
  } catch (e) {
    // A retried Complete whose first attempt succeeded: answer as the first did (as s3api does).
    const done = await st.headObject(account, op.bucket, op.key)
    if (done.status === 'ok' && done.info.sysmeta['upload-id'] === op.uploadId) {
      sendXml(ctx, 200, completeMultipartXml(location, op.bucket, op.key, done.info.etag))
      return
    }
    throw e
  }
  if (requested.length > 10000) throw s3err('InvalidArgument', 'Part number must be an integer between 1 and 10000, inclusive')
  for (let i = 1; i < requested.length; i++) {
    if (requested[i]!.partNumber <= requested[i - 1]!.partNumber) {
      throw s3err('InvalidPartOrder', 'The list of parts was not in ascending order. The parts list must be specified in order by part number.',
        { UploadId: op.uploadId })
    }
  }
  const prefix = `${markerName(op.key, op.uploadId)}/`
  const uploaded = new Map<number, { name: string; etag: string; bytes: number }>()
  for (const row of await listAll(ctx, account, segments, { prefix })) {
    const m = PART_SUFFIX.exec(row.name)
    if (m && row.name.length === prefix.length + 5) uploaded.set(Number(m[1]), { name: row.name, etag: row.hash, bytes: row.bytes })
  }
  // Every part must exist with its ETag before sizes are judged (S3 reports InvalidPart first).
  const found = requested.map((p) => {
    const u = uploaded.get(p.partNumber)
    if (!u || u.etag !== p.etag.toLowerCase()) {
      throw s3err('InvalidPart', 'One or more of the specified parts could not be found.  The part may not have been uploaded, or the specified entity tag may not match the part\'s entity tag.',
        { UploadId: op.uploadId, PartNumber: String(p.partNumber), ETag: p.etag })
    }
    return u
  })
  const parts: ManifestSegment[] = []
  const md5s: Buffer[] = []
  requested.forEach((p, i) => {
    const u = found[i]!
    if (i < requested.length - 1 && u.bytes < ctx.s.minPartSize) {
      throw s3err('EntityTooSmall', 'Your proposed upload is smaller than the minimum allowed object size.',
        { ProposedSize: String(u.bytes), MinSizeAllowed: String(ctx.s.minPartSize), PartNumber: String(p.partNumber), ETag: p.etag })
    }
    parts.push({ container: segments, object: u.name, etag: u.etag, bytes: u.bytes })
    md5s.push(Buffer.from(u.etag, 'hex'))
  })
  const etag = `${createHash('md5').update(Buffer.concat(md5s)).digest('hex')}-${parts.length}`
  const bytes = parts.reduce((n, p) => n + p.bytes, 0)
  const previous = await st.headObject(account, op.bucket, op.key)
  const r = await st.putManifest(account, op.bucket, op.key, { segments: parts, etag, bytes }, {
    contentType: marker.contentType, metadata: marker.metadata, headers: marker.headers,
    sysmeta: { ...marker.sysmeta, 'upload-id': op.uploadId },
  })
  if (r.status !== 'created') throw noSuchBucket(op.bucket)
  // Clean-up: the marker, parts uploaded but not used, and the replaced multipart object's parts.
  await st.deleteObject(account, segments, markerName(op.key, op.uploadId))
  const used = new Set(parts.map((p) => p.object))
  await eachLimited([...uploaded.values()].filter((u) => !used.has(u.name)), 8, async (u) => {
    await st.deleteObject(account, segments, u.name)
  })
  const oldUpload = previous.status === 'ok' ? previous.info.sysmeta['upload-id'] : undefined
  if (oldUpload && oldUpload !== op.uploadId) {
    const old = await listAll(ctx, account, segments, { prefix: `${markerName(op.key, oldUpload)}/` })
    await deleteSegments(ctx, account, { etag: '', bytes: 0, segments: old.map((o) => ({ container: segments, object: o.name, etag: o.hash, bytes: o.bytes })) })
  }
  sendXml(ctx, 200, completeMultipartXml(location, op.bucket, op.key, etag))
}

/** AbortMultipartUpload: removes the parts, then the marker. */
export async function abortMultipartUpload(ctx: Ctx, op: Extract<S3Op, { kind: 'AbortMultipartUpload' }>): Promise<void> {
  const account = await writableBucket(ctx, op.bucket)
  await uploadMarker(ctx, account, op.bucket, op.key, op.uploadId)
  const segments = segmentsContainer(op.bucket)
  const parts = await listAll(ctx, account, segments, { prefix: `${markerName(op.key, op.uploadId)}/` })
  await eachLimited(parts, 8, async (p) => { await ctx.s.storage.deleteObject(account, segments, p.name) })
  await ctx.s.storage.deleteObject(account, segments, markerName(op.key, op.uploadId))
  send(ctx, 204, undefined)
}

/** ListParts. */
export async function listParts(ctx: Ctx, op: Extract<S3Op, { kind: 'ListParts' }>): Promise<void> {
  const account = await writableBucket(ctx, op.bucket)
  await uploadMarker(ctx, account, op.bucket, op.key, op.uploadId)
  const prefix = `${markerName(op.key, op.uploadId)}/`
  const r = await ctx.s.storage.listObjects(account, segmentsContainer(op.bucket), {
    prefix, limit: op.maxParts + 1, ...(op.partNumberMarker ? { marker: partName(op.key, op.uploadId, op.partNumberMarker) } : {}),
  })
  if (r.status === 'no-bucket') throw noSuchUpload(op.uploadId)
  const parts = []
  for (const row of r.rows) {
    if ('subdir' in row || row.name.length !== prefix.length + 5) continue
    const m = PART_SUFFIX.exec(row.name)
    if (m) parts.push({ partNumber: Number(m[1]), lastModified: row.lastModified, etag: row.hash, size: row.bytes })
  }
  const truncated = parts.length > op.maxParts
  const shown = parts.slice(0, op.maxParts)
  sendXml(ctx, 200, listPartsXml({
    bucket: op.bucket, key: op.key, uploadId: op.uploadId, owner: ownerOf(account), partNumberMarker: op.partNumberMarker,
    maxParts: op.maxParts, isTruncated: truncated, parts: shown,
    ...(truncated ? { nextPartNumberMarker: shown[shown.length - 1]!.partNumber } : {}),
  }))
}

/** ListMultipartUploads: the markers in the segments container, parts skipped. */
export async function listMultipartUploads(ctx: Ctx, op: Extract<S3Op, { kind: 'ListMultipartUploads' }>): Promise<void> {
  const account = await writableBucket(ctx, op.bucket)
  const uploads: Array<{ key: string; uploadId: string; initiated: Date }> = []
  const prefixes = new Set<string>()
  let truncated = false
  let lastKey: string | undefined
  let lastId: string | undefined
  let marker = op.keyMarker
  scan: for (;;) {
    const r = await ctx.s.storage.listObjects(account, segmentsContainer(op.bucket), {
      limit: 10000, ...(op.prefix ? { prefix: op.prefix } : {}), ...(marker ? { marker } : {}),
    })
    if (r.status === 'no-bucket') break
    for (const row of r.rows) {
      if ('subdir' in row) continue
      marker = row.name
      const slash = row.name.lastIndexOf('/')
      const uploadId = row.name.slice(slash + 1)
      if (slash < 0 || !UPLOAD_ID.test(uploadId)) continue
      const key = row.name.slice(0, slash)
      if (op.keyMarker && (key < op.keyMarker || (key === op.keyMarker && (!op.uploadIdMarker || uploadId <= op.uploadIdMarker)))) continue
      let entry: string | undefined
      if (op.delimiter) {
        const at = key.indexOf(op.delimiter, op.prefix.length)
        if (at >= 0) entry = key.slice(0, at + op.delimiter.length)
      }
      if (entry !== undefined && prefixes.has(entry)) continue
      if (uploads.length + prefixes.size >= op.maxUploads) {
        truncated = true
        break scan
      }
      if (entry !== undefined) {
        prefixes.add(entry)
        lastKey = entry
        lastId = undefined
      } else {
        uploads.push({ key, uploadId, initiated: row.lastModified })
        lastKey = key
        lastId = uploadId
      }
    }
    if (r.rows.length < 10000) break
  }
  sendXml(ctx, 200, listUploadsXml({
    bucket: op.bucket, keyMarker: op.keyMarker, uploadIdMarker: op.uploadIdMarker, prefix: op.prefix,
    maxUploads: op.maxUploads, isTruncated: truncated, uploads, commonPrefixes: [...prefixes], owner: ownerOf(account),
    ...(op.delimiter ? { delimiter: op.delimiter } : {}), ...(op.encodingType ? { encodingType: op.encodingType } : {}),
    ...(truncated && lastKey !== undefined ? { nextKeyMarker: lastKey, ...(lastId ? { nextUploadIdMarker: lastId } : {}) } : {}),
  }))
}
