// Swift's container_quotas and account_quotas middlewares: object PUTs (and the PUTs copies
// become) that would take a container or an account past its quota are refused with 413
// "Upload exceeds quota." once the caller is known to be allowed the write, so the answer
// leaks nothing to others. Container quotas are the container's own metadata
// (X-Container-Meta-Quota-Bytes/-Count, validated when set); account quotas are set only by a
// reseller admin and kept as sysmeta (X-Account-Sysmeta-Quota-Bytes/-Count[-Policy-<index>]),
// as Swift does; the legacy X-Account-Meta-Quota-Bytes is accepted, stored and honoured too.
import { type ProxyContext, backendHeaders, checkAccess, loadAccountAcl } from './context.ts'
import { SwiftError } from './errors.ts'
import { type Middleware, type SwiftHandler, discardAnswer, subrequest } from './pipeline.ts'
import type { SwiftRequest } from './request.ts'
import { entityPath } from './storage-client.ts'

const isOk = (s: number) => s >= 200 && s < 300
const html = 'text/html; charset=UTF-8'
const badRequest = (body: string) => new SwiftError(400, Buffer.from(body), html)

/** Python's int() of a quota: an integer with optional sign and blanks; undefined otherwise. */
function pyInt(v: string | undefined): number | undefined {
  return v !== undefined && /^\s*[+-]?\d+\s*$/.test(v) ? Number(v) : undefined
}

/**
 * The bytes an object PUT adds: its Content-Length (0 when chunked, as Swift), or for a copy
 * that reached here as PUT + X-Copy-From the source's length, from a HEAD through the pipeline.
 */
async function uploadLength(next: SwiftHandler, req: SwiftRequest, source: string): Promise<number> {
  const cl = Number(req.headers['content-length'] ?? 0) || 0
  const from = req.headers['x-copy-from']
  if (cl || from === undefined) return cl
  let path = from
  try { path = decodeURIComponent(from) } catch { /* as sent */ }
  path = path.replace(/^\//, '')
  const slash = path.indexOf('/')
  if (slash <= 0) return 0 // the copy itself answers 412
  let account = req.account
  const fromAccount = req.headers['x-copy-from-account']
  if (fromAccount !== undefined) { try { account = decodeURIComponent(fromAccount) } catch { account = fromAccount } }
  try {
    const a = await next(subrequest(req, { method: 'HEAD', account, container: path.slice(0, slash), obj: path.slice(slash + 1), source }))
    discardAnswer(a)
    return isOk(a.status) ? Number(a.headers['content-length'] ?? 0) || 0 : 0
  } catch (err) {
    if (err instanceof SwiftError) return 0 // the copy reports it
    throw err
  }
}

/** 413 for an upload over quota, but first 401/403 for a caller who could not write there anyway. */
async function overQuota(ctx: ProxyContext, req: SwiftRequest, writeAcl: string | undefined, body: string): Promise<never> {
  await loadAccountAcl(ctx, req)
  checkAccess(ctx, { ...req }, writeAcl)
  throw new SwiftError(413, Buffer.from(body), html)
}

/** Swift's container_quotas; /info "container_quotas". */
export function containerQuotas(): Middleware {
  return {
    name: 'container_quotas',
    info: () => ({}),
    wrap: (next, ctx) => async (req) => {
      if (req.container === undefined) return next(req)
      if (req.obj === undefined) {
        if (req.method === 'PUT' || req.method === 'POST') {
          const bytes = req.headers['x-container-meta-quota-bytes']
          if (bytes && !/^\d+$/.test(bytes)) throw badRequest('Invalid bytes quota.')
          const count = req.headers['x-container-meta-quota-count']
          if (count && !/^\d+$/.test(count)) throw badRequest('Invalid count quota.')
        }
        return next(req)
      }
      if (req.method !== 'PUT') return next(req)
      const quotas = (h: Record<string, string>) => {
        const q = (k: string) => (/^\d+$/.test(h[`x-container-meta-quota-${k}`] ?? '') ? Number(h[`x-container-meta-quota-${k}`]) : undefined)
        return { bytes: q('bytes'), count: q('count') }
      }
      let ci = await ctx.infos.container(req.account, req.container)
      if (!isOk(ci.status)) return next(req) // the PUT answers 404 (or 503) itself
      if (quotas(ci.headers).bytes === undefined && quotas(ci.headers).count === undefined) return next(req)
      // Usage changes with every upload: a container with a quota is read afresh (Swift trusts
      // its cache for up to a minute, which lets uploads through past the quota meanwhile).
      ctx.infos.forgetContainer(req.account, req.container)
      ci = await ctx.infos.container(req.account, req.container)
      if (!isOk(ci.status)) return next(req)
      const q = quotas(ci.headers)
      const length = await uploadLength(next, req, 'CQ')
      if ((q.bytes !== undefined && ci.bytes + length > q.bytes) || (q.count !== undefined && ci.objectCount + 1 > q.count)) {
        await overQuota(ctx, req, ci.writeAcl, 'Upload exceeds quota.')
      }
      return next(req)
    },
  }
}

/** Whether the caller holds the reseller admin role (keystoneauth's reseller_request). */
function isReseller(ctx: ProxyContext, req: SwiftRequest): boolean {
  const role = ctx.auth.resellerAdminRole.toLowerCase()
  return !!req.identity?.roles.some((r) => r.toLowerCase() === role)
}

/**
 * The quota sysmeta an account POST/PUT sets (Swift's validate_and_translate_quotas for one
 * type, "quota-bytes" or "quota-count"): resellers only (403 for anyone else, 400 for values
 * that are not integers); "" removes a quota.
 */
function quotaSysmeta(ctx: ProxyContext, req: SwiftRequest, type: string): Record<string, string> {
  const h = req.headers
  const wanted = new Map<number | undefined, string | undefined>()
  wanted.set(undefined, h[`x-remove-account-${type}`] ? '' : h[`x-account-${type}`])
  for (const p of ctx.policies) {
    const tail = `account-${type}-policy-${p.name.toLowerCase()}`
    if (h[`x-remove-${tail}`]) wanted.set(p.index, '')
    else { wanted.set(p.index, h[`x-${tail}`]); delete h[`x-${tail}`] }
  }
  const given = [...wanted].filter(([, v]) => v !== undefined) as [number | undefined, string][]
  if (!given.length) return {}
  if (!isReseller(ctx, req)) throw SwiftError.status(403)
  if (given.some(([, v]) => v !== '' && !/^\d+$/.test(v))) throw SwiftError.status(400)
  const out: Record<string, string> = {}
  for (const [idx, v] of given) out[idx === undefined ? `x-account-sysmeta-${type}` : `x-account-sysmeta-${type}-policy-${idx}`] = v
  return out
}

/**
 * Stores quota sysmeta on the account's replicas. The account controller forwards only user
 * metadata to the account servers, so the quotas are written here, right after its POST.
 */
async function writeAccountSysmeta(ctx: ProxyContext, req: SwiftRequest, sysmeta: Record<string, string>): Promise<void> {
  const ring = ctx.client.ring('account')
  const part = ring.getPartition(ctx.client.hashConfig, req.account)
  const base = backendHeaders(req, { 'x-timestamp': ctx.now().internal, ...sysmeta })
  const a = await ctx.client.writeAll('account', part, 'POST', entityPath(req.account), ring.getPartNodes(part).map(() => ({ ...base })))
  ctx.infos.forgetAccount(req.account)
  if (!isOk(a.status)) throw SwiftError.status(a.status >= 500 ? 503 : a.status)
}

/** The account's quota (sysmeta first, then the legacy metadata for bytes); -1 when none. */
function accountQuota(h: Record<string, string>, key: string, legacy = false): number {
  const v = h[`x-account-sysmeta-${key}`] ?? (legacy ? h[`x-account-meta-${key}`] : undefined)
  return pyInt(v) ?? -1
}

/** Swift's account_quotas; /info "account_quotas". */
export function accountQuotas(): Middleware {
  return {
    name: 'account_quotas',
    info: () => ({}),
    wrap: (next, ctx) => async (req) => {
      if (req.container === undefined) {
        let sysmeta: Record<string, string> = {}
        if (req.method === 'POST' || req.method === 'PUT') {
          for (const legacy of ['x-account-meta-quota-bytes', 'x-remove-account-meta-quota-bytes']) {
            const now = legacy.replace('-meta-', '-')
            if (req.headers[legacy] !== undefined && !req.headers[now]) req.headers[now] = req.headers[legacy]!
          }
          sysmeta = { ...quotaSysmeta(ctx, req, 'quota-bytes'), ...quotaSysmeta(ctx, req, 'quota-count') }
        }
        const a = await next(req)
        if (Object.keys(sysmeta).length && isOk(a.status)) await writeAccountSysmeta(ctx, req, sysmeta)
        if ((req.method === 'GET' || req.method === 'HEAD') && isOk(a.status)) {
          // Anyone who may read the account sees its quotas (not the sysmeta they are kept in).
          const h = (await ctx.infos.account(req.account)).headers // cached by the GET/HEAD itself
          for (const k of ['quota-bytes', 'quota-count']) if (h[`x-account-sysmeta-${k}`]) a.headers[`x-account-${k}`] = h[`x-account-sysmeta-${k}`]!
          for (const p of ctx.policies) {
            for (const k of ['quota-bytes', 'quota-count']) {
              const v = h[`x-account-sysmeta-${k}-policy-${p.index}`]
              if (v) a.headers[`x-account-${k}-policy-${p.name.toLowerCase()}`] = v
            }
          }
        }
        return a
      }
      // Only object uploads count; resellers are not held to quotas.
      if (req.method !== 'PUT' || req.obj === undefined || isReseller(ctx, req)) return next(req)
      const ai = await ctx.infos.account(req.account)
      const h = ai.headers
      const bytesQuota = accountQuota(h, 'quota-bytes', true)
      const countQuota = accountQuota(h, 'quota-count')
      const ci = await ctx.infos.container(req.account, req.container)
      const policyName = ctx.policies.find((p) => p.index === ci.policy)?.name.toLowerCase()
      const policyBytes = accountQuota(h, `quota-bytes-policy-${ci.policy}`)
      const policyCount = accountQuota(h, `quota-count-policy-${ci.policy}`)
      if (bytesQuota < 0 && countQuota < 0 && policyBytes < 0 && policyCount < 0) return next(req)
      const length = await uploadLength(next, req, 'AQ')
      const used = (k: string) => Number(h[k] ?? 0) || 0
      if (bytesQuota >= 0 && used('x-account-bytes-used') + length > bytesQuota) await overQuota(ctx, req, ci.writeAcl, 'Upload exceeds quota.')
      if (countQuota >= 0 && used('x-account-object-count') + 1 > countQuota) await overQuota(ctx, req, ci.writeAcl, 'Upload exceeds quota.')
      const stat = (k: string) => used(`x-account-storage-policy-${policyName}-${k}`)
      if (policyBytes >= 0 && stat('bytes-used') + length > policyBytes) await overQuota(ctx, req, ci.writeAcl, 'Upload exceeds policy quota.')
      if (policyCount >= 0 && stat('object-count') + 1 > policyCount) await overQuota(ctx, req, ci.writeAcl, 'Upload exceeds policy quota.')
      return next(req)
    },
  }
}
