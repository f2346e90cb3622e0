// S3's error codes, each with its HTTP status, in one table (as Garage and AWS's own error
// reference keep them). Everything the S3 layer rejects is an S3Error carrying one of these codes;
// the handler renders it as S3's <Error> document. Anything else that escapes is a bug (500).

/** Every S3 error code the layer can answer with, and its HTTP status. */
export const S3_ERRORS = {
  AccessDenied: 403,
  AccessForbidden: 403,
  AuthorizationHeaderMalformed: 400,
  AuthorizationQueryParametersError: 400,
  BadDigest: 400,
  BucketAlreadyExists: 409,
  BucketAlreadyOwnedByYou: 409,
  BucketNotEmpty: 409,
  EntityTooLarge: 400,
  EntityTooSmall: 400,
  IllegalLocationConstraintException: 400,
  IncompleteBody: 400,
  InternalError: 500,
  InvalidAccessKeyId: 403,
  InvalidArgument: 400,
  InvalidBucketName: 400,
  InvalidBucketState: 409,
  InvalidDigest: 400,
  InvalidPart: 400,
  InvalidPartOrder: 400,
  InvalidRange: 416,
  InvalidRequest: 400,
  InvalidURI: 400,
  KeyTooLongError: 400,
  MalformedACLError: 400,
  MalformedXML: 400,
  MaxMessageLengthExceeded: 400,
  MetadataTooLarge: 400,
  MethodNotAllowed: 405,
  MissingContentLength: 411,
  MissingSecurityHeader: 400,
  NoSuchBucket: 404,
  NoSuchCORSConfiguration: 404,
  NoSuchKey: 404,
  NoSuchUpload: 404,
  NoSuchVersion: 404,
  NotImplemented: 501,
  NotModified: 304,
  PreconditionFailed: 412,
  RequestTimeTooSkewed: 403,
  ServiceUnavailable: 503,
  SignatureDoesNotMatch: 403,
  XAmzContentSHA256Mismatch: 400,
} as const

/** An S3 error code (a key of S3_ERRORS). */
export type S3ErrorCode = keyof typeof S3_ERRORS

/** Extra elements some errors carry in their <Error> document (e.g. BucketName, Key, UploadId). */
export type S3ErrorDetails = Record<string, string>

/**
 * The one error type of the S3 layer. `message` is shown to the client; `details` become extra
 * child elements of <Error> (AWS adds e.g. <BucketName> to NoSuchBucket); `headers` are added
 * to the response (e.g. x-amz-bucket-region).
 */
export class S3Error extends Error {
  override readonly name = 'S3Error'
  readonly status: number
  constructor(readonly code: S3ErrorCode, message: string,
              readonly details: S3ErrorDetails = {}, readonly headers: Record<string, string> = {},
              options?: ErrorOptions) {
    super(message, options)
    this.status = S3_ERRORS[code]
  }
}

/** Shorthand: `s3err('NoSuchKey', 'The specified key does not exist.', { Key: k })`. */
export function s3err(code: S3ErrorCode, message: string, details?: S3ErrorDetails): S3Error {
  return new S3Error(code, message, details)
}

/** The messages AWS uses for the common codes, so every site says the same thing. */
export const noSuchBucket = (bucket: string) =>
  s3err('NoSuchBucket', 'The specified bucket does not exist', { BucketName: bucket })
export const noSuchKey = (key: string) => s3err('NoSuchKey', 'The specified key does not exist.', { Key: key })
export const noSuchUpload = (uploadId: string) => s3err('NoSuchUpload',
  'The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.',
  { UploadId: uploadId })
export const accessDenied = (message = 'Access Denied') => s3err('AccessDenied', message)
export const notImplemented = (what: string) =>
  s3err('NotImplemented', `${what} is not implemented by this server.`)

/** Turns anything thrown into an S3Error; a non-S3Error is a bug and becomes InternalError. */
export function asS3Error(err: unknown): S3Error {
  if (err instanceof S3Error) return err
  return new S3Error('InternalError', 'We encountered an internal error. Please try again.', {}, {}, { cause: err })
}
