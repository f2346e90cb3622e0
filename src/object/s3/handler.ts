// The S3 API as one node:http request handler: parse → authenticate → execute through the
// storage port (one exhaustive switch) → render. It can be served on its own port
// (`http.createServer(createS3Handler(...))`) or called by the proxy for requests it routes to S3.
import { randomBytes } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { corsPreflight, applyCors, deleteBucketCors, getBucketCors, putBucketCors } from './cors.ts'
import { accountOf, settingsOf, type Ctx, type S3HandlerOptions, type S3Settings } from './context.ts'
import { asS3Error } from './errors.ts'
import {
  abortMultipartUpload, completeMultipartUpload, createMultipartUpload, listMultipartUploads, listParts, uploadPart,
  uploadPartCopy,
} from './multipart.ts'
import {
  createBucket, deleteBucket, getBucketAcl, getBucketLocation, getBucketVersioning, headBucket, listBuckets,
  putBucketAcl, putBucketVersioning,
} from './ops-bucket.ts'
import { listObjectVersions, listObjectsV1, listObjectsV2 } from './ops-list.ts'
import {
  copyObject, deleteObject, deleteObjects, getObject, getObjectAcl, headObject, putObject, putObjectAcl,
} from './ops-object.ts'
import { parseQuery, parseS3Request, type S3Op } from './parse.ts'
import { hasAuth, verifySigV4 } from './sigv4.ts'
import { errorXml } from './xml.ts'

/** A node:http request handler serving the S3 API; it never rejects. */
export type S3Handler = (req: IncomingMessage, res: ServerResponse) => Promise<void>

/** Lower-case header name → values in arrival order (SigV4 signs repeated headers joined). */
function headerMap(raw: string[]): Map<string, string[]> {
  const m = new Map<string, string[]>()
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase()
    const list = m.get(name)
    if (list) list.push(raw[i + 1]!)
    else m.set(name, [raw[i + 1]!])
  }
  return m
}

/** Creates the handler (see S3HandlerOptions). */
export function createS3Handler(options: S3HandlerOptions): S3Handler {
  const s = settingsOf(options)
  const idPrefix = randomBytes(4).toString('hex').toUpperCase()
  let counter = 0
  return async (req, res) => {
    const requestId = `${idPrefix}${(counter++ & 0xffffffff).toString(16).toUpperCase().padStart(8, '0')}`
    const url = req.url ?? '/'
    const qi = url.indexOf('?')
    const path = qi < 0 ? url : url.slice(0, qi)
    const query = qi < 0 ? '' : url.slice(qi + 1)
    let ctx: Ctx | undefined
    try {
      const params = parseQuery(query)
      const op = parseS3Request({ method: req.method ?? 'GET', host: req.headers.host, path, query, params,
        headers: req.headers as Record<string, string | undefined> }, s.baseDomain ? { baseDomain: s.baseDomain } : {})
      ctx = { req, res, op, requestId, payload: { kind: 'unsigned' }, s }
      const headers = headerMap(req.rawHeaders)
      if (op.kind !== 'CorsPreflight' && hasAuth(headers, params)) {
        const auth = await verifySigV4({ method: req.method ?? 'GET', path, query, params, headers },
          { lookup: s.credentials, regions: s.regions, now: s.now() })
        ctx.auth = auth
        ctx.account = accountOf(auth.credential.projectId)
        ctx.payload = auth.payload
      }
      if ('bucket' in op && op.kind !== 'CorsPreflight') await applyCors(ctx, op.bucket)
      await execute(ctx, op)
    } catch (e) {
      renderError(req, res, s, requestId, path, e)
    }
  }
}

/** Runs the operation: the one place every S3Op kind is dispatched. */
async function execute(ctx: Ctx, op: S3Op): Promise<void> {
  switch (op.kind) {
    case 'ListBuckets': return listBuckets(ctx)
    case 'CreateBucket': return createBucket(ctx, op.bucket)
    case 'HeadBucket': return headBucket(ctx, op.bucket)
    case 'DeleteBucket': return deleteBucket(ctx, op.bucket)
    case 'GetBucketLocation': return getBucketLocation(ctx, op.bucket)
    case 'ListObjects': return listObjectsV1(ctx, op)
    case 'ListObjectsV2': return listObjectsV2(ctx, op)
    case 'ListObjectVersions': return listObjectVersions(ctx, op)
    case 'ListMultipartUploads': return listMultipartUploads(ctx, op)
    case 'GetBucketAcl': return getBucketAcl(ctx, op.bucket)
    case 'PutBucketAcl': return putBucketAcl(ctx, op.bucket)
    case 'GetBucketCors': return getBucketCors(ctx, op.bucket)
    case 'PutBucketCors': return putBucketCors(ctx, op.bucket)
    case 'DeleteBucketCors': return deleteBucketCors(ctx, op.bucket)
    case 'GetBucketVersioning': return getBucketVersioning(ctx, op.bucket)
    case 'PutBucketVersioning': return putBucketVersioning(ctx, op.bucket)
    case 'DeleteObjects': return deleteObjects(ctx, op.bucket)
    case 'PutObject': return putObject(ctx, op.bucket, op.key)
    case 'CopyObject': return copyObject(ctx, op)
    case 'GetObject': return getObject(ctx, op)
    case 'HeadObject': return headObject(ctx, op)
    case 'DeleteObject': return deleteObject(ctx, op)
    case 'GetObjectAcl': return getObjectAcl(ctx, op.bucket, op.key)
    case 'PutObjectAcl': return putObjectAcl(ctx, op.bucket, op.key)
    case 'CreateMultipartUpload': return createMultipartUpload(ctx, op.bucket, op.key)
    case 'UploadPart': return uploadPart(ctx, op)
    case 'UploadPartCopy': return uploadPartCopy(ctx, op)
    case 'CompleteMultipartUpload': return completeMultipartUpload(ctx, op)
    case 'AbortMultipartUpload': return abortMultipartUpload(ctx, op)
    case 'ListParts': return listParts(ctx, op)
    case 'CorsPreflight': return corsPreflight(ctx, op.bucket)
    default: {
      const never: never = op
      throw new Error(`unhandled S3 operation ${(never as S3Op).kind}`)
    }
  }
}

/** Renders an error as S3's <Error> document; a failure after the headers went out cuts the connection. */
function renderError(req: IncomingMessage, res: ServerResponse, s: S3Settings, requestId: string, path: string, e: unknown): void {
  const err = asS3Error(e)
  // A client that went away mid-request has nobody to answer and is not a server fault.
  if (req.socket.destroyed) return
  if (err.code === 'InternalError') s.logger?.error({ err: e, method: req.method, url: req.url }, 's3 request failed')
  if (res.headersSent) {
    res.destroy()
    return
  }
  // A body left unread (an upload refused before or while it streamed) isn't worth draining.
  if (!req.complete) res.setHeader('connection', 'close')
  res.statusCode = err.status
  res.setHeader('x-amz-request-id', requestId)
  res.setHeader('x-amz-id-2', requestId)
  for (const [k, v] of Object.entries(err.headers)) res.setHeader(k, v)
  if (req.method === 'HEAD' || err.status === 304) {
    res.setHeader('content-length', '0')
    res.end()
    return
  }
  const body = errorXml(err.code, err.message, err.details, path, requestId)
  res.setHeader('content-type', 'application/xml')
  res.setHeader('content-length', Buffer.byteLength(body))
  res.end(body)
}
