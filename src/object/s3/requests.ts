// Reading what a request carries: its body (streamed to storage, or a small XML document),
// Content-MD5 and conditional headers.
import { createHash } from 'node:crypto'
import { parseEtagList, parseHttpDate } from './conditions.ts'
import { header, type Ctx } from './context.ts'
import { s3err } from './errors.ts'
import { prepareBody, readSmallBody, type PreparedBody } from './payload.ts'
import type { Conditions } from './port.ts'

/** Content-MD5 as hex, or undefined when absent; InvalidDigest when it isn't a base64 MD5. */
export function contentMd5(ctx: Ctx): string | undefined {
  const v = header(ctx, 'content-md5')
  if (v === undefined) return undefined
  const b = Buffer.from(v.trim(), 'base64')
  if (b.length !== 16 || b.toString('base64') !== v.trim()) {
    throw s3err('InvalidDigest', 'The Content-MD5 you specified is not valid.', { 'Content-MD5': v })
  }
  return b.toString('hex')
}

/** An upload body (PutObject, UploadPart) to stream into storage. */
export function uploadBody(ctx: Ctx): PreparedBody {
  return prepareBody(ctx.req, ctx.payload, { maxLength: ctx.s.maxObjectSize, requireLength: true })
}

/** Reads a request document (XML), verifying its Content-MD5 when given. */
export async function readDocument(ctx: Ctx, max: number): Promise<string> {
  const md5 = contentMd5(ctx)
  const body = prepareBody(ctx.req, ctx.payload, { maxLength: Number.MAX_SAFE_INTEGER, requireLength: false })
  const data = await readSmallBody(body.body, max)
  if (md5 !== undefined && createHash('md5').update(data).digest('hex') !== md5) {
    throw s3err('BadDigest', 'The Content-MD5 you specified did not match what we received.')
  }
  return data.toString('utf8')
}

/** The conditional headers of a read (`prefix` 'x-amz-copy-source-' for a copy's source). */
export function conditionsOf(ctx: Ctx, prefix = ''): Conditions | undefined {
  const c: Conditions = {}
  const ifMatch = parseEtagList(header(ctx, `${prefix}if-match`))
  const ifNoneMatch = parseEtagList(header(ctx, `${prefix}if-none-match`))
  const ims = parseHttpDate(header(ctx, `${prefix}if-modified-since`))
  const ius = parseHttpDate(header(ctx, `${prefix}if-unmodified-since`))
  if (ifMatch) c.ifMatch = ifMatch
  if (ifNoneMatch) c.ifNoneMatch = ifNoneMatch
  if (ims) c.ifModifiedSince = ims
  if (ius) c.ifUnmodifiedSince = ius
  return Object.keys(c).length ? c : undefined
}

/** Runs `fn` over `items` with at most `limit` at a time (bulk deletes). */
export async function eachLimited<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0
  const worker = async () => {
    while (next < items.length) await fn(items[next++]!)
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
}
