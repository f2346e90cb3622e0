// Object → container updates (Swift's ObjectController.container_update/async_update): after a
// PUT, POST or DELETE the object server tells each container replica named by the proxy
// (X-Container-Host/-Device/-Partition) about the new row. It waits up to
// container_update_timeout so a listing right after the write usually shows it, then lets the
// update finish in the background; a failed replica gets an async_pending record for the updater.
import { type BackendTarget, callBackend, drainBody } from './backend.ts'
import type { StorageLogger } from './backend.ts'

/** One container replica to update. `host` is "ip:port". */
export interface ContainerUpdateTarget { host: string; device: string; partition: string }

/** What to tell the container: the op ('PUT' for PUT and POST, 'DELETE') and the row headers. */
export interface ContainerUpdate {
  op: 'PUT' | 'DELETE'
  account: string
  container: string
  obj: string
  /** Lower-case names: x-timestamp, x-size, x-etag, x-content-type, x-backend-storage-policy-index, … */
  headers: Record<string, string>
}

/** Sends one update; resolves when the container accepted it (2xx), rejects otherwise. */
export type ContainerUpdater = (target: ContainerUpdateTarget, update: ContainerUpdate) => Promise<void>

/** Percent-encodes a path as Swift's quote(): everything but unreserved characters and '/'. */
export function quotePath(s: string): string {
  return encodeURIComponent(s).replace(/%2F/g, '/')
}

/** The backend path of a container update. */
export function updatePath(target: ContainerUpdateTarget, u: ContainerUpdate): string {
  return `/${quotePath(target.device)}/${quotePath(target.partition)}/${quotePath(u.account)}/${quotePath(u.container)}/${quotePath(u.obj)}`
}

/**
 * A ContainerUpdater over the backend protocol. `route` picks where a host is served (an
 * in-process handler, or by default `http://<host>`); `timeoutMs` is Swift's node_timeout.
 */
export function backendContainerUpdater(opts: { route?: (host: string) => BackendTarget; timeoutMs?: number } = {}): ContainerUpdater {
  return async (target, update) => {
    const to = opts.route?.(target.host) ?? `http://${target.host}`
    const resp = await callBackend(to, { method: update.op, path: updatePath(target, update), headers: { ...update.headers } },
      { timeoutMs: opts.timeoutMs ?? 3000 })
    drainBody(resp)
    if (resp.status < 200 || resp.status > 299) throw new Error(`container update ${update.op} got ${resp.status} from ${target.host}/${target.device}`)
  }
}

/** Reads the proxy's X-Container-* headers; null when no update was asked for or they disagree. */
export function containerTargets(headers: Record<string, string>, log?: StorageLogger): ContainerUpdateTarget[] | null {
  const partition = headers['x-container-partition'] ?? ''
  const hostsH = headers['x-container-host'] ?? ''
  const devsH = headers['x-container-device'] ?? ''
  const hosts = hostsH.split(',').map((h) => h.trim())
  const devs = devsH.split(',').map((d) => d.trim())
  if (hosts.length !== devs.length) {
    log?.error({ hosts: hostsH, devices: devsH }, 'container update failed: different numbers of hosts and devices in request')
    return null
  }
  if (!partition) return null
  const out: ContainerUpdateTarget[] = []
  for (let i = 0; i < hosts.length; i++) if (hosts[i] && devs[i]) out.push({ host: hosts[i], device: devs[i], partition })
  return out.length ? out : null
}

/** What `sendContainerUpdates` needs from the server. */
export interface UpdateContext {
  updater: ContainerUpdater
  /** How long the request waits for the updates (Swift's container_update_timeout, 1 s). */
  timeoutMs: number
  /** Saves the update for the failed targets (an async_pending record). */
  savePending: (failed: ContainerUpdateTarget[], update: ContainerUpdate) => Promise<void>
  log?: StorageLogger
}

/**
 * Sends an update to every target concurrently; waits at most `timeoutMs`, then lets the rest
 * finish in the background. Targets that fail are saved for the updater.
 */
export async function sendContainerUpdates(ctx: UpdateContext, targets: ContainerUpdateTarget[], update: ContainerUpdate): Promise<void> {
  const work = (async () => {
    const results = await Promise.allSettled(targets.map((t) => ctx.updater(t, update)))
    const failed: ContainerUpdateTarget[] = []
    results.forEach((r, i) => {
      if (r.status === 'rejected') {
        failed.push(targets[i])
        ctx.log?.warn({ err: r.reason, target: targets[i], obj: `/${update.account}/${update.container}/${update.obj}` },
          'container update failed (saving for async update later)')
      }
    })
    if (failed.length) await ctx.savePending(failed, update)
  })().catch((err: unknown) => {
    ctx.log?.error({ err, obj: `/${update.account}/${update.container}/${update.obj}` }, 'could not save async pending container update')
  })
  let timer: NodeJS.Timeout | undefined
  await Promise.race([work, new Promise<void>((resolve) => { timer = setTimeout(resolve, ctx.timeoutMs) })])
  clearTimeout(timer)
}
