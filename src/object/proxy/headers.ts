// Header plumbing shared by the controllers: which client headers go to the backend servers, and
// the container/account update headers the proxy adds so the storage servers can tell one
// another about changes (Swift's _backend_requests).
import type { Dev } from '../ring/ring.ts'
import { type NodeAnswer, quorumSize } from './quorum.ts'
import { hostOf } from './storage-client.ts'
import { defaultBody } from './errors.ts'

/** Metadata headers a client sends for an account or container, with X-Remove-* turned into empty values (transfer_headers). */
export function transferHeaders(h: Record<string, string>, type: 'account' | 'container'): Record<string, string> {
  const out: Record<string, string> = {}
  const meta = `x-${type}-meta-`
  const removeMeta = `x-remove-${type}-meta-`
  const passThrough = type === 'container'
    ? ['x-container-read', 'x-container-write', 'x-container-sync-key', 'x-container-sync-to']
    : []
  for (const k in h) {
    if (k.startsWith(removeMeta) || passThrough.some((p) => k === p.replace(/^x-/, 'x-remove-'))) {
      out[k.replace('-remove', '')] = ''
    }
  }
  // Sysmeta comes only from middlewares (the gatekeeper drops clients'): it is stored as given.
  const sysmeta = `x-${type}-sysmeta-`
  for (const k in h) {
    if (k.startsWith(meta) || k.startsWith(sysmeta) || passThrough.includes(k)) out[k] = h[k]
  }
  return out
}

/** Client headers never forwarded to object servers (large-object manifests are not supported yet). */
const OBJECT_DROP = new Set([
  'content-length', 'transfer-encoding', 'x-timestamp', 'x-copy-from', 'x-copy-from-account', 'destination',
  'destination-account', 'x-fresh-metadata', 'x-static-large-object', 'x-object-manifest', 'x-detect-content-type',
  'x-newest', 'referer', 'x-trans-id', 'x-openstack-request-id', 'user-agent', 'authorization', 'cookie',
])

/** The client's headers as an object server receives them (Swift passes the request's headers on). */
export function objectHeaders(h: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {}
  for (const k in h) if (!OBJECT_DROP.has(k) && !k.startsWith('x-container-') && !k.startsWith('x-account-')) out[k] = h[k]
  return out
}

/**
 * Adds "tell these servers" headers to per-node header sets (Swift's set_container_update and
 * the account half of the container controller's _backend_requests): `count` updates are spread
 * over the header sets round-robin, each naming the next target; several targets on one set are
 * comma-separated.
 */
export function assignTargets(sets: Record<string, string>[], kind: 'container' | 'account', partition: number,
                              targets: readonly Dev[], count = targets.length): void {
  if (!targets.length || !sets.length) return
  const p = kind === 'container' ? 'x-container-' : 'x-account-'
  for (let i = 0; i < count; i++) {
    const h = sets[i % sets.length]
    const t = targets[i % targets.length]
    h[p + 'partition'] = String(partition)
    h[p + 'host'] = h[p + 'host'] ? `${h[p + 'host']},${hostOf(t)}` : hostOf(t)
    h[p + 'device'] = h[p + 'device'] ? `${h[p + 'device']},${t.device}` : t.device
  }
}

/**
 * Swift's num_container_updates: enough object nodes carry a container update that, if only a
 * quorum of object writes succeed, a container quorum still hears of it; and every container
 * replica is named at least once.
 */
export function numContainerUpdates(containerReplicas: number, objectReplicas: number): number {
  return Math.max(quorumSize(containerReplicas) + objectReplicas - quorumSize(objectReplicas), containerReplicas)
}

/** A backend answer's body for the client: the backend's text, or swob's page for an empty error. */
export function answerBody(a: NodeAnswer): { body: Buffer | undefined; contentType?: string } {
  if (a.body.length) return { body: a.body, contentType: a.headers['content-type'] }
  if (a.status >= 400) return { body: defaultBody(a.status), contentType: 'text/html; charset=UTF-8' }
  return { body: undefined }
}
