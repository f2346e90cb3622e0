// The object store (catalog type object-store): one storage node's account, container and
// object servers on this host's devices, and the Swift proxy in front of them. The proxy calls
// the servers of this process directly (no HTTP); `serveBackends` also puts them on the network
// so proxies on other hosts can reach them. The only file other folders import.
import type { TokenValidator } from '../core/auth.ts'
import type { Core } from '../core/index.ts'
import type { Api } from '../core/http/app.ts'
import { type LocalCluster, type ServerKind, type ServerPorts, DEFAULT_SERVER_PORTS, ensureLocalCluster } from './cluster.ts'
import type { KeystoneAuthOptions } from './proxy/acl.ts'
import { createSwiftProxy } from './proxy/app.ts'
import { type ContainerSyncConfig, storeContainerSync } from './proxy/container-sync-realms.ts'
import type { CorsSettings } from './proxy/cors.ts'
import { defaultMiddlewares } from './proxy/middlewares.ts'
import { mountS3 } from './proxy/s3-mount.ts'
import { ProxyS3Storage } from './proxy/s3-storage.ts'
import type { CredentialLookup, S3Storage } from './s3/index.ts'
import type { PasswordAuthenticator } from './proxy/auth.ts'
import { StorageClient, hostOf } from './proxy/storage-client.ts'
import { hashPath } from './ring/hash.ts'
import { type AccountServer, createAccountServer } from './storage/account-server.ts'
import { type DaemonName, type ObjectDaemons, createObjectDaemons } from './daemons/index.ts'
import { type BackendHandler, type BackendServer, type StorageLogger, callBackend, serveBackend } from './storage/backend.ts'
import { type ContainerServer, createContainerServer } from './storage/container-server.ts'
import { backendContainerUpdater } from './storage/container-update.ts'
import { createObjectDisk } from './storage/diskfile.ts'
import { createObjectServer } from './storage/object-server.ts'

export type { PasswordAuthenticator } from './proxy/auth.ts'
export { DEFAULT_SERVER_PORTS } from './cluster.ts'

/** Options of the object store. */
export interface ObjectStoreOptions {
  /** Validates X-Auth-Token (identity's validator). */
  auth: TokenValidator
  /** DATA_DIR/object: hash secret, rings, devices. */
  dataDir: string
  /** This node's address in the rings. Default 127.0.0.1. */
  host?: string
  /** This node's storage server ports in new rings. Default 6202/6201/6200 (account/container/object). */
  ports?: ServerPorts
  /** Partition power of new rings (smaller starts faster in tests). Default 10. */
  partPower?: number
  /** Device directories of this node. Default d1, d2, d3. */
  devices?: readonly string[]
  /** Replicas of the rings made at first start (default 3, at most one per device); later starts keep the rings' own. */
  replicas?: number
  /** For GET /auth/v1.0 (Swift v1 auth). */
  authenticate?: PasswordAuthenticator
  keystone?: Partial<KeystoneAuthOptions>
  /**
   * Background daemons (replicators, auditor, updaters, expirer): per-daemon intervals in ms
   * (0 turns one off, defaults in daemons/index.ts DEFAULT_INTERVALS), or false for none (tests).
   */
  daemons?: Partial<Record<DaemonName, number>> | false
  /**
   * EC2 credential lookup (identity's findEc2Credential): with it the proxy also serves S3 on
   * its port (SigV4-signed requests and every path outside /v1, /auth, /info).
   */
  ec2Credentials?: CredentialLookup
  /** The region S3 signatures name (default 'RegionOne'; us-east-1 is accepted too). */
  s3Region?: string
  /** Container sync: realms file, a realm naming this cluster, allowed_sync_hosts (default 127.0.0.1). */
  containerSync?: ContainerSyncConfig
  /** The proxy's CORS settings (cors_allow_origin, cors_expose_headers, strict_cors_mode). */
  cors?: Partial<CorsSettings>
}

/** The running object store. */
export interface ObjectStore {
  /** The Swift API (port 8080 in all-in-one). */
  api: Api
  /** This node's storage servers, as BackendHandlers. */
  servers: { account: AccountServer; container: ContainerServer; object: BackendHandler }
  client: StorageClient
  /** The S3 layer's storage port over this proxy (served when ec2Credentials is given). */
  s3Storage: S3Storage
  daemons: ObjectDaemons
  cluster: LocalCluster
  /** Puts the storage servers on node:http at their ring ports (for remote proxies and tools). */
  serveBackends(bind: string, ports?: ServerPorts): Promise<BackendServer[]>
  close(): Promise<void>
}

/** Builds the object store on the core: cluster files, storage servers, storage client, proxy. */
export async function createObjectStore(core: Core, o: ObjectStoreOptions): Promise<ObjectStore> {
  const host = o.host ?? '127.0.0.1'
  const ports = o.ports ?? DEFAULT_SERVER_PORTS
  const log = core.log.child({ svc: 'object-storage' }) as unknown as StorageLogger
  const cluster = await ensureLocalCluster({ root: o.dataDir, host, ports, devices: o.devices, partPower: o.partPower, replicas: o.replicas })
  const { hashConfig, devicesRoot, rings } = cluster
  const containerSync = storeContainerSync(o.containerSync, o.dataDir, hashConfig)

  // "ip:port" → this process's server of that kind: every device of the rings that names this
  // host, and the configured ports (rings written on an earlier start may differ).
  const local = new Map<string, BackendHandler>()
  const route = (h: string) => local.get(h)
  const client = new StorageClient({ hashConfig, rings, local: route, logger: log })
  const dbHash = (account: string, container?: string) => hashPath(hashConfig, account, container)
  const account = createAccountServer({ devices: devicesRoot, hashPath: dbHash, logger: log })
  const container = createContainerServer({
    devices: devicesRoot, hashPath: dbHash, logger: log,
    accountUpdate: (target, req) => callBackend(client.route(target), { method: req.method, path: req.path, query: req.query, headers: req.headers, body: req.body }),
  })
  const disk = createObjectDisk({ devicesRoot, logger: log })
  const object = createObjectServer({ devicesRoot, hashConfig, disk, logger: log, containerRoute: (h) => client.route(h) })
  const handlers: Record<ServerKind, BackendHandler> = { account, container, object }
  for (const kind of ['account', 'container', 'object'] as const) {
    local.set(`${host.includes(':') ? `[${host}]` : host}:${ports[kind]}`, handlers[kind])
    for (const d of rings[kind].devs) if (d && d.ip === host) local.set(hostOf(d), handlers[kind])
  }

  const { api, ctx } = createSwiftProxy({
    log: core.log, policy: core.policy, auth: () => o.auth, client, authenticate: o.authenticate, keystone: o.keystone,
    middlewares: defaultMiddlewares(), containerSync, cors: o.cors,
  })
  const s3Storage = new ProxyS3Storage(ctx)
  if (o.ec2Credentials) {
    mountS3(api, { storage: s3Storage, credentials: cachedCredentials(o.ec2Credentials), region: o.s3Region ?? 'RegionOne',
      logger: { error: (obj, msg) => log.error(obj, msg ?? 'S3 request failed') } })
  }

  // Replicators, auditor, updaters and expirer of this node, sharing the object server's disk
  // (its suffix-hash lock must be the one they use).
  const daemons = createObjectDaemons({
    devicesRoot, hashConfig, logger: log, disk,
    myNodes: new Set(local.keys()),
    client: (dev) => client.route(hostOf(dev)),
    rings: { object: rings.object, container: rings.container, account: rings.account },
    containerServer: container, accountServer: account,
    intervals: o.daemons === false ? undefined : o.daemons, containerSync,
  })
  if (o.daemons !== false) daemons.start()

  const backends: BackendServer[] = []
  return {
    api, servers: { account, container, object }, client, s3Storage, cluster,
    async serveBackends(bind, at = ports) {
      for (const kind of ['account', 'container', 'object'] as const) {
        backends.push(await serveBackend(handlers[kind], { host: bind, port: at[kind], logger: log }))
      }
      return backends.slice()
    },
    daemons,
    async close() {
      await daemons.stop()
      await api.close()
      for (const b of backends.splice(0)) await b.close()
      container.close()
      account.close()
    },
  }
}

/**
 * EC2 credential lookups, remembered briefly (found: 10 s, unknown: 2 s), as Swift's s3token
 * caches Keystone's answers: a lookup is a database query (a Kysely compile and a prepared
 * statement each time), which measured ~8 % of a small S3 request's CPU. Concurrent requests
 * with one key share a lookup. A deleted credential keeps working for at most the TTL.
 */
function cachedCredentials(lookup: CredentialLookup, ttlMs = 10_000, missTtlMs = 2_000, max = 10_000): CredentialLookup {
  const cache = new Map<string, { until: number; value: ReturnType<CredentialLookup> }>()
  return (accessKey) => {
    const now = Date.now()
    const hit = cache.get(accessKey)
    if (hit && hit.until > now) return hit.value
    if (cache.size >= max) cache.clear()
    const value = lookup(accessKey)
    const entry = { until: now + missTtlMs, value }
    cache.set(accessKey, entry)
    value.then((c) => { if (c) entry.until = Date.now() + ttlMs },
      () => { if (cache.get(accessKey) === entry) cache.delete(accessKey) })
    return value
  }
}
