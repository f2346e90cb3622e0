// The proxy's middleware pipeline, as Swift's paste pipeline: each middleware wraps the handler
// to its right and may answer a request itself, change it on the way in, change the answer on
// the way out, or make subrequests (a SLO reading its segments, bulk deleting each name) through
// the rest of the pipeline. The innermost handler is the account/container/object controllers.
import type { Readable } from 'node:stream'
import type { ProxyContext } from './context.ts'
import type { ClientAnswer, SwiftRequest } from './request.ts'

/** Answers one Swift request. Errors are thrown as SwiftError. */
export type SwiftHandler = (req: SwiftRequest) => Promise<ClientAnswer>

/** A middleware: a name (for /info and logs), and how it wraps the handler to its right. */
export interface Middleware {
  name: string
  wrap(next: SwiftHandler, ctx: ProxyContext): SwiftHandler
  /** Its section of GET /info (Swift's register_swift_info); none when it publishes nothing. */
  info?(): Record<string, unknown>
}

/** Builds the pipeline: the first middleware sees requests first (as the left of Swift's pipeline). */
export function compose(middlewares: readonly Middleware[], core: SwiftHandler, ctx: ProxyContext): SwiftHandler {
  let h = core
  for (let i = middlewares.length - 1; i >= 0; i--) h = middlewares[i]!.wrap(h, ctx)
  return h
}

/** What a subrequest changes from its parent; everything else (caller, trans id) is inherited. */
export interface SubrequestOptions {
  method: string
  account?: string
  container?: string
  obj?: string
  query?: URLSearchParams | Record<string, string>
  /** The subrequest's client headers (none of the parent's are carried over unless given). */
  headers?: Record<string, string>
  body?: Readable
  /** Which middleware makes it (Swift's swift_source), e.g. "SLO". */
  source: string
  /** Skips authorization, for middlewares that authorized the request themselves (tempurl, formpost). */
  preauthorized?: boolean
}

/** A request made by a middleware on behalf of the client (Swift's make_subrequest). */
export function subrequest(parent: SwiftRequest, o: SubrequestOptions): SwiftRequest {
  const query = o.query instanceof URLSearchParams ? o.query : new URLSearchParams(o.query ?? {})
  return {
    method: o.method,
    account: o.account ?? parent.account,
    container: o.container,
    obj: o.obj,
    query,
    headers: { ...o.headers },
    body: o.body,
    identity: parent.identity,
    id: parent.id,
    owner: false,
    source: o.source,
    preauthorized: o.preauthorized ?? parent.preauthorized,
    env: parent.env,
  }
}

/** Reads a whole answer body (for small bodies: manifests, listings, error pages). */
export async function answerBytes(a: ClientAnswer, limit = 64 * 1024 * 1024): Promise<Buffer> {
  if (a.body === undefined) return Buffer.alloc(0)
  if (Buffer.isBuffer(a.body)) return a.body
  const chunks: Buffer[] = []
  let n = 0
  for await (const c of a.body as AsyncIterable<Buffer>) {
    n += c.length
    if (n > limit) { a.body.destroy(); throw new Error(`answer body over ${limit} bytes`) }
    chunks.push(c)
  }
  return Buffer.concat(chunks)
}

/** Drops an answer's body unread (a stream is destroyed so its backend connection is freed). */
export function discardAnswer(a: ClientAnswer): void {
  if (a.body && !Buffer.isBuffer(a.body)) a.body.destroy()
}
