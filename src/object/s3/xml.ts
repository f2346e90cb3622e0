// S3's XML response documents, with AWS's exact element names and namespace. Each renderer takes
// plain typed data and returns the whole document; the handler only sends it. Request documents
// are read by xml-parse.ts.

/** The S3 namespace every response document's root element carries. */
export const S3_XMLNS = 'http://s3.amazonaws.com/doc/2006-03-01/'
const XSI = 'http://www.w3.org/2001/XMLSchema-instance'
const DECL = '<?xml version="1.0" encoding="UTF-8"?>\n'

const ESC: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;' }

/**
 * Escapes element text (attributes rendered here are constants). Control characters (which
 * object keys may hold but XML 1.0 can't carry literally) become character references, as AWS
 * writes them; quotes stay literal, as in AWS's `<ETag>"..."</ETag>`.
 */
export function escapeXml(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[&<>]|[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g,
    (c) => ESC[c] ?? `&#x${c.charCodeAt(0).toString(16).toUpperCase()};`)
}

/** `<name>text</name>`; undefined renders nothing (optional elements). */
export function el(name: string, value: string | number | boolean | undefined): string {
  if (value === undefined) return ''
  return `<${name}>${escapeXml(String(value))}</${name}>`
}

/** `<name>children</name>` where the children are already rendered. */
function wrap(name: string, inner: string): string {
  return `<${name}>${inner}</${name}>`
}

function doc(root: string, inner: string): string {
  return `${DECL}<${root} xmlns="${S3_XMLNS}">${inner}</${root}>`
}

/** S3's URL encoding of names in listings with EncodingType=url (every reserved byte escaped). */
export function urlEncodeName(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
}

/** The bucket owner as S3 shows it (ID and DisplayName: the project id). */
export interface Owner { id: string; displayName: string }

const owner = (tag: string, o: Owner) => wrap(tag, el('ID', o.id) + el('DisplayName', o.displayName))
const quoted = (etag: string) => `"${etag}"`
const iso = (d: Date) => d.toISOString()

/** The error document; `details` are extra children (BucketName, Key...). */
export function errorXml(code: string, message: string, details: Record<string, string>, resource: string,
                         requestId: string): string {
  let extra = ''
  for (const [k, v] of Object.entries(details)) extra += el(k, v)
  // <Error> has no namespace in AWS's answers.
  return `${DECL}<Error>${el('Code', code)}${el('Message', message)}${extra}${el('Resource', resource)}` +
    `${el('RequestId', requestId)}${el('HostId', requestId)}</Error>`
}

/** ListBuckets. */
export function listAllMyBucketsXml(o: Owner, buckets: Array<{ name: string; createdAt: Date }>): string {
  let inner = ''
  for (const b of buckets) inner += wrap('Bucket', el('Name', b.name) + el('CreationDate', iso(b.createdAt)))
  return doc('ListAllMyBucketsResult', owner('Owner', o) + wrap('Buckets', inner))
}

/** One object of a listing. */
export interface ListedObject {
  key: string
  lastModified: Date
  etag: string
  size: number
  /** Versions listings: the version ('null' when absent), whether it is the latest, whether it is a delete marker. */
  versionId?: string
  isLatest?: boolean
  deleteMarker?: boolean
}

/** What the three object listings share. */
interface ListingCommon {
  bucket: string
  prefix: string
  delimiter?: string
  maxKeys: number
  isTruncated: boolean
  encodingType?: 'url'
  contents: ListedObject[]
  commonPrefixes: string[]
  /** Set when owners are shown (v1 always, v2 with fetch-owner). */
  owner?: Owner
}

function names(l: ListingCommon) {
  return (s: string) => (l.encodingType ? urlEncodeName(s) : s)
}

function contentsXml(l: ListingCommon, tag = 'Contents', extra: (o: ListedObject) => string = () => ''): string {
  const n = names(l)
  let out = ''
  for (const o of l.contents) {
    if (o.deleteMarker) {
      // A delete marker has no data: no ETag, size or storage class.
      out += wrap('DeleteMarker', el('Key', n(o.key)) + extra(o) + el('LastModified', iso(o.lastModified)) +
        (l.owner ? owner('Owner', l.owner) : ''))
      continue
    }
    out += wrap(tag, el('Key', n(o.key)) + extra(o) + el('LastModified', iso(o.lastModified)) +
      el('ETag', quoted(o.etag)) + el('Size', o.size) + (l.owner ? owner('Owner', l.owner) : '') +
      el('StorageClass', 'STANDARD'))
  }
  for (const p of l.commonPrefixes) out += wrap('CommonPrefixes', el('Prefix', n(p)))
  return out
}

/** ListObjects (v1). */
export function listBucketV1Xml(l: ListingCommon & { marker: string; nextMarker?: string }): string {
  const n = names(l)
  return doc('ListBucketResult', el('Name', l.bucket) + el('Prefix', n(l.prefix)) + el('Marker', n(l.marker)) +
    el('NextMarker', l.nextMarker === undefined ? undefined : n(l.nextMarker)) + el('MaxKeys', l.maxKeys) +
    el('Delimiter', l.delimiter === undefined ? undefined : n(l.delimiter)) + el('IsTruncated', l.isTruncated) +
    el('EncodingType', l.encodingType) + contentsXml(l))
}

/** ListObjectsV2. */
export function listBucketV2Xml(l: ListingCommon & { keyCount: number; continuationToken?: string;
  nextContinuationToken?: string; startAfter?: string }): string {
  const n = names(l)
  return doc('ListBucketResult', el('Name', l.bucket) + el('Prefix', n(l.prefix)) +
    el('StartAfter', l.startAfter === undefined ? undefined : n(l.startAfter)) + el('MaxKeys', l.maxKeys) +
    el('KeyCount', l.keyCount) + el('Delimiter', l.delimiter === undefined ? undefined : n(l.delimiter)) +
    el('IsTruncated', l.isTruncated) + el('EncodingType', l.encodingType) +
    el('ContinuationToken', l.continuationToken) + el('NextContinuationToken', l.nextContinuationToken) +
    contentsXml(l))
}

/** ListObjectVersions: versions and delete markers (an unversioned bucket lists each object once, as version "null"). */
export function listVersionsXml(l: ListingCommon & { keyMarker: string; versionIdMarker: string;
  nextKeyMarker?: string; nextVersionIdMarker?: string }): string {
  const n = names(l)
  return doc('ListVersionsResult', el('Name', l.bucket) + el('Prefix', n(l.prefix)) + el('KeyMarker', n(l.keyMarker)) +
    el('VersionIdMarker', l.versionIdMarker) +
    el('NextKeyMarker', l.nextKeyMarker === undefined ? undefined : n(l.nextKeyMarker)) +
    el('NextVersionIdMarker', l.nextVersionIdMarker) + el('MaxKeys', l.maxKeys) +
    el('Delimiter', l.delimiter === undefined ? undefined : n(l.delimiter)) + el('IsTruncated', l.isTruncated) +
    el('EncodingType', l.encodingType) +
    contentsXml(l, 'Version', (o) => el('VersionId', o.versionId ?? 'null') + el('IsLatest', o.isLatest ?? true)))
}

/** CreateMultipartUpload. */
export function initiateMultipartXml(bucket: string, key: string, uploadId: string): string {
  return doc('InitiateMultipartUploadResult', el('Bucket', bucket) + el('Key', key) + el('UploadId', uploadId))
}

/** CompleteMultipartUpload. */
export function completeMultipartXml(location: string, bucket: string, key: string, etag: string): string {
  return doc('CompleteMultipartUploadResult',
    el('Location', location) + el('Bucket', bucket) + el('Key', key) + el('ETag', quoted(etag)))
}

/** One part of ListParts. */
export interface ListedPart { partNumber: number; lastModified: Date; etag: string; size: number }

/** ListParts. */
export function listPartsXml(p: { bucket: string; key: string; uploadId: string; owner: Owner;
  partNumberMarker: number; nextPartNumberMarker?: number; maxParts: number; isTruncated: boolean;
  parts: ListedPart[] }): string {
  let parts = ''
  for (const x of p.parts) {
    parts += wrap('Part', el('PartNumber', x.partNumber) + el('LastModified', iso(x.lastModified)) +
      el('ETag', quoted(x.etag)) + el('Size', x.size))
  }
  return doc('ListPartsResult', el('Bucket', p.bucket) + el('Key', p.key) + el('UploadId', p.uploadId) +
    owner('Initiator', p.owner) + owner('Owner', p.owner) + el('StorageClass', 'STANDARD') +
    el('PartNumberMarker', p.partNumberMarker) + el('NextPartNumberMarker', p.nextPartNumberMarker) +
    el('MaxParts', p.maxParts) + el('IsTruncated', p.isTruncated) + parts)
}

/** One upload of ListMultipartUploads. */
export interface ListedUpload { key: string; uploadId: string; initiated: Date }

/** ListMultipartUploads. */
export function listUploadsXml(u: { bucket: string; keyMarker: string; uploadIdMarker: string;
  nextKeyMarker?: string; nextUploadIdMarker?: string; prefix: string; delimiter?: string; maxUploads: number;
  isTruncated: boolean; uploads: ListedUpload[]; commonPrefixes: string[]; owner: Owner; encodingType?: 'url' }): string {
  const n = (s: string) => (u.encodingType ? urlEncodeName(s) : s)
  let inner = ''
  for (const x of u.uploads) {
    inner += wrap('Upload', el('Key', n(x.key)) + el('UploadId', x.uploadId) + owner('Initiator', u.owner) +
      owner('Owner', u.owner) + el('StorageClass', 'STANDARD') + el('Initiated', iso(x.initiated)))
  }
  for (const p of u.commonPrefixes) inner += wrap('CommonPrefixes', el('Prefix', n(p)))
  return doc('ListMultipartUploadsResult', el('Bucket', u.bucket) + el('KeyMarker', n(u.keyMarker)) +
    el('UploadIdMarker', u.uploadIdMarker) +
    el('NextKeyMarker', u.nextKeyMarker === undefined ? undefined : n(u.nextKeyMarker)) +
    el('NextUploadIdMarker', u.nextUploadIdMarker) + el('Delimiter', u.delimiter === undefined ? undefined : n(u.delimiter)) +
    el('Prefix', n(u.prefix)) + el('MaxUploads', u.maxUploads) + el('IsTruncated', u.isTruncated) +
    el('EncodingType', u.encodingType) + inner)
}

/** CopyObject (`CopyObjectResult`) and UploadPartCopy (`CopyPartResult`). */
export function copyResultXml(root: 'CopyObjectResult' | 'CopyPartResult', etag: string, lastModified: Date): string {
  return doc(root, el('LastModified', iso(lastModified)) + el('ETag', quoted(etag)))
}

/**
 * One deleted key of DeleteObjects: `versionId` the version asked for; `deleteMarker` when a
 * marker was deleted or written, `deleteMarkerVersionId` its id.
 */
export interface DeletedKey { key: string; versionId?: string; deleteMarker?: boolean; deleteMarkerVersionId?: string }

/** DeleteObjects; in quiet mode the caller passes no `deleted`. */
export function deleteResultXml(deleted: Array<string | DeletedKey>, errors: Array<{ key: string; code: string; message: string }>): string {
  let inner = ''
  for (const d of deleted) {
    if (typeof d === 'string') { inner += wrap('Deleted', el('Key', d)); continue }
    inner += wrap('Deleted', el('Key', d.key) + el('VersionId', d.versionId) + (d.deleteMarker ? el('DeleteMarker', true) : '') +
      el('DeleteMarkerVersionId', d.deleteMarkerVersionId))
  }
  for (const e of errors) inner += wrap('Error', el('Key', e.key) + el('Code', e.code) + el('Message', e.message))
  return doc('DeleteResult', inner)
}

/** An ACL grant: to the owner (CanonicalUser) or to one of S3's groups. */
export type Grant =
  | { grantee: { type: 'CanonicalUser'; id: string; displayName: string }; permission: Permission }
  | { grantee: { type: 'Group'; uri: string }; permission: Permission }
/** S3's ACL permissions. */
export type Permission = 'FULL_CONTROL' | 'READ' | 'WRITE' | 'READ_ACP' | 'WRITE_ACP'

/** GetBucketAcl / GetObjectAcl. */
export function aclXml(o: Owner, grants: Grant[]): string {
  let inner = ''
  for (const g of grants) {
    const who = g.grantee.type === 'CanonicalUser'
      ? el('ID', g.grantee.id) + el('DisplayName', g.grantee.displayName)
      : el('URI', g.grantee.uri)
    inner += wrap('Grant', `<Grantee xmlns:xsi="${XSI}" xsi:type="${g.grantee.type}">${who}</Grantee>` +
      el('Permission', g.permission))
  }
  return doc('AccessControlPolicy', owner('Owner', o) + wrap('AccessControlList', inner))
}

/** One CORS rule, as stored and as rendered. */
export interface CorsRule {
  id?: string
  allowedOrigins: string[]
  allowedMethods: string[]
  allowedHeaders: string[]
  exposeHeaders: string[]
  maxAgeSeconds?: number
}

/** GetBucketCors. */
export function corsXml(rules: CorsRule[]): string {
  let inner = ''
  for (const r of rules) {
    inner += wrap('CORSRule', el('ID', r.id) + r.allowedOrigins.map((x) => el('AllowedOrigin', x)).join('') +
      r.allowedMethods.map((x) => el('AllowedMethod', x)).join('') +
      r.allowedHeaders.map((x) => el('AllowedHeader', x)).join('') +
      r.exposeHeaders.map((x) => el('ExposeHeader', x)).join('') + el('MaxAgeSeconds', r.maxAgeSeconds))
  }
  return doc('CORSConfiguration', inner)
}

/** GetBucketVersioning: no Status element until versioning was ever configured. */
export function versioningXml(status: 'Enabled' | 'Suspended' | undefined): string {
  return doc('VersioningConfiguration', el('Status', status))
}

/** GetBucketLocation: us-east-1 is the empty constraint, as AWS answers. */
export function locationXml(region: string): string {
  return `${DECL}<LocationConstraint xmlns="${S3_XMLNS}">${region === 'us-east-1' ? '' : escapeXml(region)}</LocationConstraint>`
}
