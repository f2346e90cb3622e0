// Bucket CORS: the configuration (Get/Put/DeleteBucketCors, kept as JSON in the bucket's
// metadata `cors`), preflight requests (OPTIONS) and the Access-Control-* headers of actual
// requests that carry an Origin, matched against the rules as S3 matches them (first rule whose
// origin, method and requested headers all match; one '*' wildcard per pattern).
import { ownBucket, registryOwner } from './access.ts'
import { header, send, sendXml, type Ctx } from './context.ts'
import { noSuchBucket, s3err } from './errors.ts'
import { corsXml, type CorsRule } from './xml.ts'
import { readCors } from './xml-requests.ts'
import { readDocument } from './requests.ts'

/** Stored configurations must fit a metadata value (see port.ts). */
const MAX_STORED = 8192

/** The bucket's rules, or undefined when it has no configuration. */
export function corsRules(metadata: Record<string, string>): CorsRule[] | undefined {
  const v = metadata.cors
  if (!v) return undefined
  try {
    return JSON.parse(v) as CorsRule[]
  } catch {
    return undefined
  }
}

function wildcard(pattern: string, value: string): boolean {
  const i = pattern.indexOf('*')
  if (i < 0) return pattern === value
  return value.length >= pattern.length - 1 && value.startsWith(pattern.slice(0, i)) && value.endsWith(pattern.slice(i + 1))
}

/** The first rule allowing this origin, method and request headers. */
export function matchCors(rules: CorsRule[], origin: string, method: string, requestHeaders: string[]): CorsRule | undefined {
  return rules.find((r) => r.allowedOrigins.some((o) => wildcard(o, origin)) && r.allowedMethods.includes(method) &&
    requestHeaders.every((h) => r.allowedHeaders.some((a) => wildcard(a.toLowerCase(), h))))
}

function allowHeaders(rule: CorsRule, origin: string): Record<string, string> {
  const any = rule.allowedOrigins.includes('*')
  const h: Record<string, string> = {
    'access-control-allow-origin': any ? '*' : origin,
    'access-control-allow-methods': rule.allowedMethods.join(', '),
    vary: 'Origin, Access-Control-Request-Headers, Access-Control-Request-Method',
  }
  if (!any) h['access-control-allow-credentials'] = 'true'
  if (rule.exposeHeaders.length) h['access-control-expose-headers'] = rule.exposeHeaders.join(', ')
  return h
}

/** The metadata of a bucket for CORS purposes: the requester's own, else the registered owner's. */
async function bucketMetadata(ctx: Ctx, bucket: string): Promise<Record<string, string> | undefined> {
  if (ctx.account) {
    const own = await ctx.s.storage.headBucket(ctx.account, bucket)
    if (own) return own.metadata
  }
  const owner = await registryOwner(ctx, bucket)
  return owner ? (await ctx.s.storage.headBucket(owner, bucket))?.metadata : undefined
}

const forbidden = (why: string) => s3err('AccessForbidden', `CORSResponse: ${why}`)

/** OPTIONS: a preflight request. */
export async function corsPreflight(ctx: Ctx, bucket: string): Promise<void> {
  const origin = header(ctx, 'origin')
  const method = header(ctx, 'access-control-request-method')
  if (!origin) throw s3err('InvalidRequest', 'Insufficient information. Origin request header needed.')
  if (!method) throw s3err('InvalidRequest', 'Invalid Access-Control-Request-Method: null')
  const metadata = await bucketMetadata(ctx, bucket)
  if (!metadata) throw noSuchBucket(bucket)
  const rules = corsRules(metadata)
  if (!rules) throw forbidden('CORS is not enabled for this bucket.')
  const requested = (header(ctx, 'access-control-request-headers') ?? '').split(',').map((x) => x.trim().toLowerCase()).filter(Boolean)
  const rule = matchCors(rules, origin, method, requested)
  if (!rule) {
    throw forbidden('This CORS request is not allowed. This is usually because the evalution of Origin, request method / Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted by the resource\'s CORS spec.')
  }
  const h = allowHeaders(rule, origin)
  if (requested.length) h['access-control-allow-headers'] = requested.join(', ')
  if (rule.maxAgeSeconds !== undefined) h['access-control-max-age'] = String(rule.maxAgeSeconds)
  send(ctx, 200, undefined, h)
}

/** Sets the Access-Control-* headers of an actual request carrying an Origin (no-op otherwise). */
export async function applyCors(ctx: Ctx, bucket: string): Promise<void> {
  const origin = header(ctx, 'origin')
  if (!origin) return
  const metadata = await bucketMetadata(ctx, bucket)
  const rules = metadata && corsRules(metadata)
  const rule = rules && matchCors(rules, origin, ctx.req.method ?? 'GET', [])
  if (!rule) return
  for (const [k, v] of Object.entries(allowHeaders(rule, origin))) ctx.res.setHeader(k, v)
}

/** GetBucketCors. */
export async function getBucketCors(ctx: Ctx, bucket: string): Promise<void> {
  const { metadata } = await ownBucket(ctx, bucket)
  const rules = corsRules(metadata)
  if (!rules) throw s3err('NoSuchCORSConfiguration', 'The CORS configuration does not exist', { BucketName: bucket })
  sendXml(ctx, 200, corsXml(rules))
}

/** PutBucketCors. */
export async function putBucketCors(ctx: Ctx, bucket: string): Promise<void> {
  const { account } = await ownBucket(ctx, bucket)
  const rules = readCors(await readDocument(ctx, 64 * 1024))
  const stored = JSON.stringify(rules)
  if (Buffer.byteLength(stored) > MAX_STORED) {
    throw s3err('InvalidRequest', `The CORS configuration is too large for this server (at most ${MAX_STORED} bytes once stored).`)
  }
  if ((await ctx.s.storage.setBucketMetadata(account, bucket, { cors: stored })) !== 'ok') throw noSuchBucket(bucket)
  send(ctx, 200, undefined)
}

/** DeleteBucketCors. */
export async function deleteBucketCors(ctx: Ctx, bucket: string): Promise<void> {
  const { account } = await ownBucket(ctx, bucket)
  if ((await ctx.s.storage.setBucketMetadata(account, bucket, { cors: null })) !== 'ok') throw noSuchBucket(bucket)
  send(ctx, 204, undefined)
}
