// Swift's staticweb (swift/common/middleware/staticweb.py): a container as a web site. For
// anonymous GET/HEAD (and callers with a token who send X-Web-Mode: true) the container's
// X-Container-Meta-Web-* settings apply: Web-Index is served for the container and its
// pseudo-directories, Web-Listings gives HTML listings (Web-Listings-CSS, -Label), Web-Error
// serves "<status><suffix>" pages for 404s and 401s, and 0-byte objects of Web-Directory-Type
// count as directories. Everything is fetched through the rest of the pipeline, so the
// container's ACLs decide what an anonymous visitor may see.
import { isTrue } from '../storage/storage-util.ts'
import { type ProxyContext, checkAccess, loadAccountAcl } from './context.ts'
import { SwiftError } from './errors.ts'
import type { ContainerInfo } from './info-cache.ts'
import { type Middleware, type SwiftHandler, answerBytes, discardAnswer, subrequest } from './pipeline.ts'
import type { ClientAnswer, SwiftRequest } from './request.ts'
import { pyQuote, swobBody } from './bulk-response.ts'
import { type ListingItem, listingDisabledPage, listingPage } from './staticweb-html.ts'

/** A container's web settings (its X-Container-Meta-Web-* values, trimmed). */
interface WebMeta { index: string; error: string; listings: string; label: string; css: string; dirType: string }

function webMeta(ci: ContainerInfo): WebMeta {
  const ok = ci.status >= 200 && ci.status < 300
  const m = (k: string) => (ok ? (ci.headers[`x-container-meta-web-${k}`] ?? '').trim() : '')
  return { index: m('index'), error: m('error'), listings: m('listings'), label: m('listings-label'), css: m('listings-css'), dirType: m('directory-type') }
}

const isOk = (s: number) => s >= 200 && s < 300
const isRedirect = (s: number) => s >= 300 && s < 400
const html = 'text/html; charset=UTF-8'

/** The answer a SwiftError stands for. */
const fromError = (err: SwiftError): ClientAnswer => ({ status: err.status, headers: { 'content-type': err.contentType, ...err.headers }, body: err.body })

/** An answer, or the SwiftError a handler threw as the answer it stands for. */
async function answerOf(p: Promise<ClientAnswer>): Promise<ClientAnswer> {
  try { return await p } catch (err) {
    if (err instanceof SwiftError) return fromError(err)
    throw err
  }
}

// Generated pages say so (Swift's X-Backend-Content-Generator): tempurl serves them inline and
// lets a container-root temp URL through only for them. The proxy drops x-backend-* headers
// before the client sees them.
const page = (status: number, body: string): ClientAnswer =>
  ({ status, headers: { 'content-type': html, 'x-backend-content-generator': 'staticweb' }, body: Buffer.from(body) })

/** One staticweb request's state (Swift's _StaticWebContext). */
class WebRequest {
  web!: WebMeta
  constructor(private readonly next: SwiftHandler, private readonly ctx: ProxyContext, private readonly req: SwiftRequest) {}

  private get version(): string { return String(this.req.env?.get('swift.version') ?? 'v1') }

  /** The request's path as Swift's PATH_INFO (decoded); a container's ends in "/" unless the proxy says otherwise. */
  private path(): string {
    const given = this.req.env?.get('swift.path')
    if (typeof given === 'string') return given
    const { account, container, obj } = this.req
    return `/${this.version}/${account}/${container}/${obj ?? ''}`
  }

  async loadWeb(): Promise<ContainerInfo> {
    const ci = await this.ctx.infos.container(this.req.account, this.req.container!)
    this.web = webMeta(ci)
    return ci
  }

  /** A GET through the pipeline of another object of the container (fresh headers, or the client's). */
  private get(obj: string | undefined, o: { headers?: Record<string, string>; query?: Record<string, string>; method?: string } = {}) {
    return answerOf(this.next(subrequest(this.req, { method: o.method ?? 'GET', container: this.req.container, obj, headers: o.headers,
      query: o.query, source: 'SW' })))
  }

  /** The error answer, or the container's "<status><Web-Error>" page with that status when it exists. */
  async errorAnswer(a: ClientAnswer): Promise<ClientAnswer> {
    if (!this.web.error) return a
    const custom = await this.get(`${a.status}${this.web.error}`)
    if (!isOk(custom.status)) { discardAnswer(custom); return a }
    discardAnswer(a)
    return { status: a.status, headers: custom.headers, body: custom.body }
  }

  redirectWithSlash(): ClientAnswer {
    return { status: 301, headers: { location: pyQuote(this.path() + '/'), 'content-type': html }, body: Buffer.from(swobBody(301)) }
  }

  /** The HTML listing of `prefix` (Swift's _listing). */
  async listing(prefix: string): Promise<ClientAnswer> {
    let label = this.path()
    if (this.web.label) label = `${this.web.label}/${label.split('/').slice(4).join('/')}`
    if (!isTrue(this.web.listings)) return this.errorAnswer(page(404, listingDisabledPage(label, this.web.css, prefix, this.web.index)))
    const query: Record<string, string> = { format: 'json', delimiter: '/' }
    if (prefix) query.prefix = prefix
    const a = await this.get(undefined, { query })
    if (!isOk(a.status)) return this.errorAnswer(a)
    const raw = await answerBytes(a)
    const items = (raw.length ? JSON.parse(raw.toString('utf8')) : []) as ListingItem[]
    if (prefix && !items.length) return this.errorAnswer(page(404, swobBody(404)))
    return page(200, listingPage(label, this.web.css, prefix, items))
  }

  /** A request for the container itself (Swift's handle_container). */
  async container(): Promise<ClientAnswer> {
    const ci = await this.loadWeb()
    await loadAccountAcl(this.ctx, this.req)
    try { checkAccess(this.ctx, { ...this.req }, ci.readAcl) } catch (err) {
      if (err instanceof SwiftError) return this.errorAnswer(fromError(err))
      throw err
    }
    if (!this.web.listings && !this.web.index) {
      if (isTrue(this.req.headers['x-web-mode'])) return page(404, swobBody(404))
      return this.next(this.req)
    }
    if (!this.path().endsWith('/')) return this.redirectWithSlash()
    if (!this.web.index) return this.listing('')
    const idx = await this.get(this.web.index, { method: this.req.method, headers: { ...this.req.headers } })
    if (idx.status === 404) { discardAnswer(idx); return this.listing('') }
    if (!isOk(idx.status) && !isRedirect(idx.status)) return this.errorAnswer(idx)
    return idx
  }

  /** A request for an object, which may be a directory's index or listing (Swift's handle_object). */
  async object(): Promise<ClientAnswer> {
    const obj = this.req.obj!
    const first = await answerOf(this.next(this.req))
    await this.loadWeb()
    let status = first.status
    if (isOk(status) || isRedirect(status)) {
      // A directory marker (0 or 1 byte of Web-Directory-Type) is not served as an object.
      const len = Number(first.headers['content-length'] ?? 0) || 0
      if (first.headers['content-type'] !== (this.web.dirType || 'application/directory') || len > 1) return first
      status = 404
    }
    if (status !== 404) return first
    if (!this.web.listings && !this.web.index) return first
    discardAnswer(first)
    if (this.web.index) {
      const idx = await this.get(`${obj.endsWith('/') ? obj : obj + '/'}${this.web.index}`, { method: this.req.method, headers: { ...this.req.headers } })
      if (isOk(idx.status) || isRedirect(idx.status)) {
        if (!obj.endsWith('/')) { discardAnswer(idx); return this.redirectWithSlash() }
        return idx
      }
      if (idx.status !== 404) return this.errorAnswer(idx)
      discardAnswer(idx)
    }
    if (!obj.endsWith('/')) {
      // A pseudo-directory is redirected to its listing; anything else is not found.
      const probe = await this.get(undefined, { query: { format: 'json', limit: '1', delimiter: '/', prefix: obj + '/' } })
      const raw = isOk(probe.status) ? await answerBytes(probe) : (discardAnswer(probe), Buffer.alloc(0))
      if (!raw.length || !(JSON.parse(raw.toString('utf8')) as unknown[]).length) return this.errorAnswer(page(404, swobBody(404)))
      return this.redirectWithSlash()
    }
    return this.listing(obj)
  }
}

/** The staticweb middleware; /info "staticweb" (no settings, as Swift). */
export function staticweb(): Middleware {
  return {
    name: 'staticweb',
    info: () => ({}),
    wrap: (next, ctx) => async (req) => {
      if ((req.method !== 'GET' && req.method !== 'HEAD') || req.container === undefined) return next(req)
      // Callers with a token get the API unless they ask for the web view (tempurl's are anonymous).
      if (req.identity && !req.preauthorized && !isTrue(req.headers['x-web-mode'])) return next(req)
      const w = new WebRequest(next, ctx, req)
      return req.obj === undefined ? w.container() : w.object()
    },
  }
}
