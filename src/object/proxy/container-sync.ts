// The container_sync middleware (Swift's common/middleware/container_sync.py): lets the container
// sync daemon of another (or this) cluster write into a container without a token, and checks
// X-Container-Sync-To values.
// - A request signed with X-Container-Sync-Auth: "<realm> <nonce> <sig>", sig = HMAC-SHA1 by the
//   realm's key of method, path, X-Timestamp, nonce and the container's X-Container-Sync-Key,
//   is let through as authorized (Swift's swift.authorize_override); a bad one is a 401.
// - A request carrying the container's X-Container-Sync-Key and an X-Timestamp (the older,
//   realm-less form Swift's auth middlewares accept for PUT and DELETE; HEAD too here, which the
//   daemon asks first) is let through as well.
// - Clients may not choose X-Timestamp (Swift's gatekeeper moves it aside): only a valid sync
//   request keeps it, so synced copies carry their source's timestamp.
// - Container PUT/POST: X-Container-Sync-To must validate (Swift checks it in the container
//   server), must be a realm value when full URLs are off, and cannot be set on a versioned container.
import type { ProxyContext } from './context.ts'
import { type ContainerSyncSettings, constEq, pyQuote, syncSignature, validateSyncTo } from './container-sync-realms.ts'
import { SwiftError } from './errors.ts'
import type { Middleware, SwiftHandler } from './pipeline.ts'
import type { SwiftRequest } from './request.ts'

/** Methods the realm-less X-Container-Sync-Key opens on objects. */
const KEY_METHODS = new Set(['PUT', 'DELETE', 'HEAD'])

/** The URL-encoded path a sync request was signed over (Swift's req.path). */
export function signedPath(req: SwiftRequest): string {
  const version = (req.env?.get('swift.version') as string | undefined) ?? 'v1'
  let p = `/${version}/${pyQuote(req.account)}`
  if (req.container !== undefined) p += `/${pyQuote(req.container)}`
  if (req.obj !== undefined) p += `/${pyQuote(req.obj)}`
  return p
}

function unauthorized(req: SwiftRequest): SwiftError {
  return SwiftError.text(401, 'X-Container-Sync-Auth header not valid; contact cluster operator for support.', {
    'www-authenticate': `SwiftContainerSync realm="${encodeURIComponent(req.account)}"`,
  })
}

/** Checks X-Container-Sync-Auth against the realm keys and the container's sync key. */
async function validAuth(ctx: ProxyContext, req: SwiftRequest, auth: string, timestamp: string | undefined): Promise<boolean> {
  const parts = auth.trim().split(/\s+/)
  if (parts.length !== 3) return false
  const [realm, nonce, sig] = parts as [string, string, string]
  const realms = ctx.containerSync.realms
  const realmKey = realms.key(realm)
  if (!realmKey) return false
  const userKey = (await ctx.infos.container(req.account, req.container!)).syncKey
  if (!userKey) return false
  const path = signedPath(req)
  const ts = timestamp ?? '0'
  if (constEq(sig, syncSignature(req.method, path, ts, nonce, realmKey, userKey))) return true
  const realmKey2 = realms.key2(realm)
  return !!realmKey2 && constEq(sig, syncSignature(req.method, path, ts, nonce, realmKey2, userKey))
}

/** Validates a container's new X-Container-Sync-To (400s as Swift's middleware and container server). */
async function checkSyncTo(ctx: ProxyContext, req: SwiftRequest, syncTo: string): Promise<void> {
  const s = ctx.containerSync
  const info = await ctx.infos.container(req.account, req.container!)
  if (info.headers['x-container-sysmeta-versions-container']) {
    throw SwiftError.text(400, 'Cannot configure container sync on a container with object versioning configured.')
  }
  if (!s.allowFullUrls && !syncTo.startsWith('//')) {
    throw SwiftError.text(400, 'Full URLs are not allowed for X-Container-Sync-To values. Only realm values of the format ' +
      '//realm/cluster/account/container are allowed.\n')
  }
  const target = validateSyncTo(syncTo, s.allowedSyncHosts, s.realms)
  if (target.error) throw SwiftError.text(400, target.error)
}

/** The middleware; place it near the front (after cors), before anything that authorizes. */
export function containerSync(): Middleware {
  let settings: ContainerSyncSettings | undefined
  return {
    name: 'container_sync',
    wrap(next: SwiftHandler, ctx: ProxyContext): SwiftHandler {
      settings = ctx.containerSync
      return async (req) => {
        if (req.source !== undefined) return next(req)
        const timestamp = req.headers['x-timestamp']
        if (timestamp !== undefined) delete req.headers['x-timestamp']
        if (req.container === undefined) return next(req)
        const syncTo = req.headers['x-container-sync-to']
        if (syncTo && req.obj === undefined && (req.method === 'PUT' || req.method === 'POST')) await checkSyncTo(ctx, req, syncTo)
        const auth = req.headers['x-container-sync-auth']
        let valid = false
        if (auth) {
          if (!(await validAuth(ctx, req, auth, timestamp))) throw unauthorized(req)
          valid = true
          // A synced SLO manifest arrives in its stored form, maybe before its segments; a synced
          // symlink as stored too: the middlewares that check those let them be (Swift's overrides).
          req.env?.set('swift.slo_override', true)
          req.env?.set('swift.symlink_override', true)
        } else {
          const key = req.headers['x-container-sync-key']
          if (key !== undefined && timestamp !== undefined && req.obj !== undefined && KEY_METHODS.has(req.method)) {
            const userKey = (await ctx.infos.container(req.account, req.container)).syncKey
            valid = !!userKey && constEq(key, userKey)
          }
        }
        if (valid) {
          req.preauthorized = true
          if (timestamp !== undefined) req.headers['x-timestamp'] = timestamp
        }
        return next(req)
      }
    },
    /** Swift's register_info: the realms and their clusters, this cluster marked current. */
    info() {
      const realms: Record<string, { clusters: Record<string, { current?: true }> }> = {}
      if (!settings) return { realms }
      for (const realm of settings.realms.realms()) {
        const clusters = settings.realms.clusters(realm)
        if (!clusters.length) continue
        realms[realm] = { clusters: Object.fromEntries(clusters.map((c) => [c, {}])) }
      }
      const cur = settings.current
      const entry = cur && realms[cur.realm]?.clusters[cur.cluster]
      if (entry) entry.current = true
      return { realms }
    },
  }
}
