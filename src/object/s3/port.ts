// The port between the S3 API layer and object storage (hexagonal design): everything the S3
// layer needs from storage, and nothing more. The Swift proxy implements it on its own account,
// container and object paths; `FakeS3Storage` implements it in memory for tests; both must pass
// `s3StorageConformance` (port-conformance.ts).
//
// Model: an S3 bucket is a Swift container in account `AUTH_<project_id>`, a key is an object
// name. Multipart parts live in the container `<bucket>+segments` (plain objects, written with
// putObject) and a completed upload is a manifest object (putManifest) that reads back as the
// concatenation of its segments, like Swift's SLO. S3 bucket names never contain '+', so the
// segments containers can't be reached as buckets.
//
// Names: `account`, `container` and `object` are plain (decoded) strings; the implementation
// encodes them for its own paths. Timestamps are Dates. An ETag is lower-case hex without quotes
// (`<md5 hex>`, or `<md5 hex>-<parts>` for a manifest).
import type { Readable } from 'node:stream'

/**
 * Standard headers stored with an object and returned with it, as Swift stores them
 * (lower-case names): content-disposition, content-encoding, content-language, cache-control,
 * expires. Content-Type is separate (`contentType`).
 */
export type StoredHeaders = Record<string, string>

/** What the S3 layer keeps about an object, apart from its bytes. */
export interface ObjectInfo {
  /** Hex MD5 of the body, or the manifest's own ETag (`<hex>-<N>`) for a manifest. */
  etag: string
  /** Total length in bytes (for a manifest: the sum of its segments). */
  bytes: number
  contentType: string
  lastModified: Date
  /** User metadata (x-amz-meta-*): keys lower-case, without prefix. Swift: X-Object-Meta-<key>. */
  metadata: Record<string, string>
  /** The S3 layer's own metadata (e.g. `acl`, `upload-id`). Swift: X-Object-Sysmeta-S3-<key>. */
  sysmeta: Record<string, string>
  headers: StoredHeaders
  /** The version read, when the bucket is (or was) versioned ('null' for unversioned data). */
  versionId?: string
}

/** One segment of a manifest: a plain object in the same account. */
export interface ManifestSegment {
  container: string
  object: string
  /** The segment's MD5 hex; a read fails if the segment no longer matches. */
  etag: string
  bytes: number
}

/**
 * A completed multipart upload, stored by `putManifest` (Swift: an SLO manifest, i.e. the JSON
 * `[{"name": "/<container>/<object>", "hash": etag, "bytes": n}, ...]` with
 * X-Static-Large-Object, and the container listing's hash/bytes overridden with `etag`/`bytes`
 * as s3api does through X-Object-Sysmeta-Container-Update-Override-Etag/-Size).
 */
export interface MultipartManifest {
  segments: ManifestSegment[]
  /** The S3 multipart ETag: md5 of the concatenated binary part MD5s, `-`, the part count. */
  etag: string
  /** Sum of the segments' bytes. */
  bytes: number
}

/** Request conditions (RFC 7232); ETags unquoted, `*` allowed in the lists. */
export interface Conditions {
  ifMatch?: string[]
  ifNoneMatch?: string[]
  ifModifiedSince?: Date
  ifUnmodifiedSince?: Date
}

/** A single byte range as the client asked for it: `first-[last]` or a suffix of `suffix` bytes. */
export type ByteRange = { first: number; last?: number } | { suffix: number }

/** Options of getObject/headObject. */
export interface ReadOptions {
  /** Evaluated as RFC 7232 section 6 says (helpers: evaluateConditions in conditions.ts). */
  conditions?: Conditions
  /** Ignored by headObject. Unsatisfiable → 'range-not-satisfiable'. */
  range?: ByteRange
  /**
   * A specific version (only with `S3Storage.versioning`); 'null' is the unversioned data. An
   * unknown version is 'not-found'; a delete marker is 'delete-marker'.
   */
  versionId?: string
}

/** The answer to a read. Only 'ok' of getObject carries a body, which the caller must consume or destroy. */
export type ReadResult =
  | { status: 'not-found' }
  | { status: 'not-modified'; info: ObjectInfo }
  | { status: 'precondition-failed'; info: ObjectInfo }
  | { status: 'range-not-satisfiable'; info: ObjectInfo }
  /** `range` is the inclusive byte range served, absent for the whole object. */
  | { status: 'ok'; info: ObjectInfo; range?: { start: number; end: number } }
  /** The version asked for is a delete marker (S3 answers 405 for it). */
  | { status: 'delete-marker'; versionId: string; lastModified: Date }

/** getObject's 'ok' answer carries the body stream. */
export type GetResult = Exclude<ReadResult, { status: 'ok' }>
  | { status: 'ok'; info: ObjectInfo; range?: { start: number; end: number }; body: Readable }

/** Options of putObject. */
export interface PutOptions {
  contentType: string
  /** Exact body length when known; a body of another length is an error and is not stored. */
  contentLength?: number
  /** Expected MD5 hex (from Content-MD5); a mismatch → 'bad-digest', nothing stored (Swift: ETag header, 422). */
  md5?: string
  metadata: Record<string, string>
  sysmeta?: Record<string, string>
  headers?: StoredHeaders
  /** `*`: store only if no object of that name exists, else 'precondition-failed' (Swift: If-None-Match: *). */
  ifNoneMatch?: '*'
}

/** The answer to putObject / putManifest. */
export type PutResult =
  /** `versionId` when the bucket keeps versions. */
  | { status: 'created'; etag: string; lastModified: Date; versionId?: string }
  /** The container does not exist; returned before any of the body is read. */
  | { status: 'no-bucket' }
  | { status: 'bad-digest'; etag: string }
  | { status: 'precondition-failed' }

/** Options of putManifest (the manifest's own metadata). */
export interface ManifestOptions {
  contentType: string
  metadata: Record<string, string>
  sysmeta?: Record<string, string>
  headers?: StoredHeaders
}

/** Container listing parameters, Swift's (`limit` at most 10000). */
export interface ListOptions {
  prefix?: string
  delimiter?: string
  marker?: string
  endMarker?: string
  limit: number
  reverse?: boolean
}

/** One listing row: an object (Swift's JSON listing row, typed) ... */
export interface ObjectRow {
  name: string
  bytes: number
  /** ETag as the listing stores it (a manifest lists with its multipart ETag). */
  hash: string
  contentType: string
  lastModified: Date
}
/** ... or a run of names collapsed under the delimiter. */
export interface SubdirRow { subdir: string }

/** A listing: rows in name order (code point order), objects and subdirs together, at most `limit`. */
export type ListResult = { status: 'ok'; rows: Array<ObjectRow | SubdirRow> } | { status: 'no-bucket' }

/** A container as the S3 layer sees it. */
export interface BucketInfo {
  createdAt: Date
  objectCount: number
  bytesUsed: number
  /** The S3 layer's bucket metadata (acl, cors, versioning...). Swift: X-Container-Sysmeta-S3-<key>. */
  metadata: Record<string, string>
  /** Versioning state, with `S3Storage.versioning` (undefined: never set). */
  versioning?: 'Enabled' | 'Suspended'
}

/** Options of a versions listing (Swift's `?versions` listing: marker + version_marker). */
export interface VersionListOptions {
  prefix?: string
  delimiter?: string
  /** Versions of keys after this one (or, with versionIdMarker, after that version of it). */
  keyMarker?: string
  versionIdMarker?: string
  limit: number
}

/** One version in a versions listing. */
export interface VersionRow {
  name: string
  versionId: string
  isLatest: boolean
  deleteMarker: boolean
  bytes: number
  hash: string
  lastModified: Date
}

/** A versions listing: versions (newest first within a key) and subdirs, in key order. */
export type VersionListResult = { status: 'ok'; rows: Array<VersionRow | SubdirRow> } | { status: 'no-bucket' }

/** The answer to deleteObject. */
export type DeleteResult =
  /**
   * `manifest`: the deleted data was a manifest nothing else refers to (its segments can go).
   * `versionId`: the version deleted, or the delete marker written; `deleteMarker`: it is one.
   */
  | { status: 'deleted'; manifest?: MultipartManifest; versionId?: string; deleteMarker?: boolean }
  | { status: 'not-found' }
  | { status: 'no-bucket' }

/**
 * Object versioning (Swift's object_versioning), optional: a storage without it has buckets
 * that are never versioned. With it, reads and deletes take a versionId, and writes to a bucket
 * whose versioning is Enabled keep the previous versions.
 */
export interface S3Versioning {
  /** Enables or suspends versioning of a bucket (S3's PutBucketVersioning). */
  setVersioning(account: string, container: string, status: 'Enabled' | 'Suspended'): Promise<'ok' | 'not-found'>
  /** Every version of the keys in the range, delete markers included (S3's ListObjectVersions). */
  listVersions(account: string, container: string, options: VersionListOptions): Promise<VersionListResult>
}

/** One row of listBuckets. */
export interface BucketRow { name: string; createdAt: Date }

/**
 * What the S3 layer needs from object storage. Every method is safe to retry. Metadata keys
 * (bucket metadata, sysmeta, user metadata) are lower-case `[a-z0-9-]`; values are strings of
 * at most 8 KiB (Swift's header line limit). The S3 layer validates names, sizes and
 * authorization; the implementation trusts its caller.
 */
export interface S3Storage {
  /** All containers of the account, in name order (the implementation pages through Swift's listing). */
  listBuckets(account: string): Promise<BucketRow[]>
  /** The container, or undefined when it does not exist. */
  headBucket(account: string, container: string): Promise<BucketInfo | undefined>
  /** Creates the container with the given metadata; 'exists' (metadata untouched) if it already exists. */
  createBucket(account: string, container: string, metadata: Record<string, string>): Promise<'created' | 'exists'>
  /** Deletes an empty container. */
  deleteBucket(account: string, container: string): Promise<'deleted' | 'not-found' | 'not-empty'>
  /** Sets (string) or removes (null) container metadata keys, leaving the others (Swift: container POST). */
  setBucketMetadata(account: string, container: string, changes: Record<string, string | null>): Promise<'ok' | 'not-found'>
  listObjects(account: string, container: string, options: ListOptions): Promise<ListResult>

  /**
   * Stores an object from a stream, replacing any object of that name. Acknowledged means
   * durable. If `body` errors, the object is not stored and the promise rejects with that error.
   */
  putObject(account: string, container: string, object: string, body: Readable, options: PutOptions): Promise<PutResult>
  /** Stores a manifest object; reads of it stream the segments' concatenation (verifying each segment's ETag). */
  putManifest(account: string, container: string, object: string, manifest: MultipartManifest,
              options: ManifestOptions): Promise<PutResult>
  getObject(account: string, container: string, object: string, options?: ReadOptions): Promise<GetResult>
  headObject(account: string, container: string, object: string, options?: ReadOptions): Promise<ReadResult>
  /**
   * Replaces the object's sysmeta keys given (null removes), keeping body, user metadata and
   * ETag (Swift: POST with X-Object-Transient-Sysmeta-S3-*, which POST may update).
   */
  setObjectSysmeta(account: string, container: string, object: string,
                   changes: Record<string, string | null>): Promise<'ok' | 'not-found'>
  /**
   * Deletes the object (a manifest: the manifest only, its segments stay). `manifest` is the
   * deleted manifest, so the S3 layer can delete its segments. In a bucket whose versioning is
   * Enabled this writes a delete marker instead; `versionId` deletes that one version.
   */
  deleteObject(account: string, container: string, object: string, options?: { versionId?: string }): Promise<DeleteResult>
  /** Versioning, when the storage keeps versions. */
  readonly versioning?: S3Versioning
}
