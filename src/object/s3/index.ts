// The S3 API layer's public surface: what the proxy (which implements S3Storage and mounts the
// handler), the composition root (which passes the credential lookup) and the benchmark use.
export { createS3Handler, type S3Handler } from './handler.ts'
export type { S3HandlerOptions } from './context.ts'
export type {
  BucketInfo, BucketRow, ByteRange, Conditions, GetResult, ListOptions, ListResult, ManifestOptions, ManifestSegment,
  MultipartManifest, ObjectInfo, ObjectRow, PutOptions, PutResult, ReadOptions, ReadResult, S3Storage, StoredHeaders,
  SubdirRow,
} from './port.ts'
export { evaluateConditions, resolveRange } from './conditions.ts'
export { FakeS3Storage } from './fake-storage.ts'
export { s3StorageConformance, type ConformanceSubject } from './port-conformance.ts'
export type { CredentialLookup, S3Credential } from './sigv4.ts'
export { encodeAwsChunked, presignUrl, signChunkedUpload, signRequest, type ClientCredentials } from './sigv4-client.ts'
export { S3Error, S3_ERRORS, type S3ErrorCode } from './errors.ts'
