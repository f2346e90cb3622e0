// The container server (Swift's swift/container/server.py) as a BackendHandler:
//   PUT    /<dev>/<part>/<acct>/<cont>           create or update a container (201/202), then
//                                                update the account (X-Account-Host/-Device/-Partition)
//   PUT    /<dev>/<part>/<acct>/<cont>/<obj>     object row from an object server (201)
//   DELETE /<dev>/<part>/<acct>/<cont>/<obj>     object tombstone row (204)
//   DELETE /<dev>/<part>/<acct>/<cont>           delete an empty container (204; 409 if not empty)
//   HEAD, GET (listing), POST (metadata), UPDATE (rows as JSON), REPLICATE (db-replicate.ts)
import { drainBody, lowerHeaders, type BackendHandler, type BackendRequest, type BackendResponse } from './backend.ts'
import {
  BrokerCache, DbError, dbFilePath,
} from './db-broker.ts'
import { containerInfoIsDeleted, ContainerBroker, incorrectPolicyIndex, tombstone, type ContainerInfo } from './container-broker.ts'
import { toObjectRows, type ObjectRow } from './container-rows.ts'
import { brokerLookup, consoleLogger, policyTools, type DbServerOptions } from './db-server-setup.ts'
import {
  DeviceChecker, errorResponse, intHeader, listParams, metadataFromHeaders, readJsonBody, requireTimestamp, respond,
  replicateRequest, splitPath,
} from './db-server.ts'
import { isTrue } from './storage-util.ts'
import { parseMetadata, replicateRpc, type ReplicateHooks } from './db-replicate.ts'
import { listingContentType, objectEntry, renderContainerListing } from './listing.ts'
import { normalizeTimestamp, parseTs, tsHttpDate, ZERO_TIMESTAMP } from './db-timestamp.ts'

/** Sends a backend request to the node at `host` ("ip:port"); the proxy's StorageClient fits. */
export type NodeRequester = (host: string, req: BackendRequest) => Promise<BackendResponse>

/** Options of the container server. */
export interface ContainerServerOptions extends DbServerOptions {
  /** Sends the account updates a container PUT/DELETE makes. */
  accountUpdate: NodeRequester
  /** How long to wait for each account server (Swift's node_timeout); default 3000 ms. */
  accountUpdateTimeoutMs?: number
}

/** A container server: a BackendHandler that also closes its open DBs. */
export type ContainerServer = BackendHandler & {
  /** Commits queued rows and closes every open DB. */
  close(): void
  /** The open broker of a container, if its DB exists (for the replicator and tests). */
  broker(device: string, partition: string | number, account: string, container: string): ContainerBroker | undefined
  /** Closes and forgets a cached DB, before something else removes or replaces its file. */
  forget(dbPath: string): void
}

/** Headers stored as container metadata besides X-Container-Meta-* and -Sysmeta-*. */
const SAVE_HEADERS = ['x-container-read', 'x-container-write', 'x-container-sync-key', 'x-container-sync-to']

/** Creates the container server over the devices directory `opts.devices`. */
export function createContainerServer(opts: ContainerServerOptions): ContainerServer {
  const cache = new BrokerCache<ContainerBroker>(opts.maxOpenDbs ?? 128)
  const devices = new DeviceChecker(opts.devices, opts.mountCheck)
  const policies = policyTools(opts.policies)
  const autoPrefix = opts.autoCreateAccountPrefix ?? '.'
  const logger = opts.logger ?? consoleLogger
  const timeoutMs = opts.accountUpdateTimeoutMs ?? 3000

  const pathOf = (device: string, part: string, account: string, container: string) =>
    dbFilePath(opts.devices, device, 'containers', part, opts.hashPath(account, container))

  const { find, create } = brokerLookup(cache, 'containers', ContainerBroker.open, logger)

  /** Swift's _maybe_autocreate: object updates create containers of auto-create accounts. */
  function maybeAutocreate(path: string, h: Record<string, string>, timestamp: string, account: string,
                           container: string, policyIndex: number | undefined): ContainerBroker {
    const header = h['x-backend-auto-create']
    const should = header ? isTrue(header) : account.startsWith(autoPrefix) && !account.startsWith('.shards_')
    let broker = find(path)
    if (should && !broker) {
      if (policyIndex === undefined) throw new DbError(400, 'X-Backend-Storage-Policy-Index header is required')
      // The object's timestamp may carry an offset; the container's is the plain time.
      const putTimestamp = parseTs(timestamp).normal;
      [broker] = create(path, () => ContainerBroker.create(path, { account, container, putTimestamp,
        storagePolicyIndex: policyIndex }))
    }
    if (!broker) throw new DbError(404, 'Not Found')
    return broker
  }

  /** Swift's account_update: tells the account servers about the container; 404 if all say 404. */
  async function accountUpdate(h: Record<string, string>, account: string, container: string,
                               broker: ContainerBroker, method: string, path: string): Promise<BackendResponse | undefined> {
    const hosts = (h['x-account-host'] ?? '').split(',').map((s) => s.trim())
    const devs = (h['x-account-device'] ?? '').split(',').map((s) => s.trim())
    const partition = h['x-account-partition'] ?? ''
    if (hosts.length !== devs.length) {
      logger.error({ hosts: h['x-account-host'], devices: h['x-account-device'] },
        'account update failed: different numbers of hosts and devices')
      return respond(400)
    }
    if (!partition) return undefined
    const info = broker.getInfo()
    const headers: Record<string, string> = {
      'x-put-timestamp': info.put_timestamp,
      'x-delete-timestamp': info.delete_timestamp,
      'x-object-count': String(info.object_count),
      'x-bytes-used': String(info.bytes_used),
      'x-trans-id': h['x-trans-id'] ?? '-',
      'x-backend-storage-policy-index': String(info.storage_policy_index),
      'user-agent': `container-server ${process.pid}`,
      'referer': `${method} ${path}`,
    }
    if ((h['x-account-override-deleted'] ?? 'no').toLowerCase() === 'yes') headers['x-account-override-deleted'] = 'yes'
    const target = `/${[partition, account, container].map(encodeURIComponent).join('/')}`
    const statuses = await Promise.all(hosts.map(async (host, i) => {
      const device = devs[i]!
      try {
        const res = await withTimeout(opts.accountUpdate(host, {
          method: 'PUT', path: `/${encodeURIComponent(device)}${target}`, query: new URLSearchParams(), headers: { ...headers },
        }), timeoutMs)
        drainBody(res) // nothing to read; free the connection
        if (res.status !== 404 && (res.status < 200 || res.status >= 300)) {
          logger.error({ host, device, status: res.status, account, container }, 'account update failed (will retry later)')
        }
        return res.status
      } catch (err) {
        logger.error({ err, host, device, account, container }, 'account update failed (will retry later)')
        return 0
      }
    }))
    return statuses.every((s) => s === 404) ? respond(404) : undefined
  }

  function respHeaders(info: ContainerInfo | undefined, deleted: boolean): Record<string, string> {
    const t = (v: string | undefined) => parseTs(v || ZERO_TIMESTAMP)
    const h: Record<string, string> = {
      'x-backend-timestamp': t(info?.created_at).internal,
      'x-backend-put-timestamp': t(info?.put_timestamp).internal,
      'x-backend-delete-timestamp': t(info?.delete_timestamp).internal,
      'x-backend-status-changed-at': t(info?.status_changed_at).internal,
      'x-backend-storage-policy-index': String(info?.storage_policy_index ?? 0),
    }
    if (!deleted && info) {
      h['x-container-object-count'] = String(info.object_count)
      h['x-container-bytes-used'] = String(info.bytes_used)
      h['x-timestamp'] = t(info.created_at).normal
      h['x-put-timestamp'] = t(info.put_timestamp).normal
      h['x-backend-sharding-state'] = 'unsharded'
    }
    return h
  }

  function addMetadata(h: Record<string, string>, broker: ContainerBroker): void {
    for (const [key, [value]] of Object.entries(broker.metadata)) {
      const k = key.toLowerCase()
      if (value !== '' && (SAVE_HEADERS.includes(k) || k.startsWith('x-container-meta-') ||
        k.startsWith('x-container-sysmeta-'))) h[k] = value
    }
  }

  async function PUT(req: BackendRequest, h: Record<string, string>): Promise<BackendResponse> {
    const [device, part, account, container, obj] = splitPath(req.path, 4, 5, true) as string[]
    const timestamp = requireTimestamp(h)
    devices.check(device!)
    const path = pathOf(device!, part!, account!, container!)
    if (obj) {
      const requested = policies.requested(h)
      const size = intHeader(h, 'x-size')
      const contentType = h['x-content-type']
      const etag = h['x-etag']
      if (contentType === undefined) throw new DbError(400, 'Missing X-Content-Type header')
      if (etag === undefined) throw new DbError(400, 'Missing X-Etag header')
      const broker = maybeAutocreate(path, h, timestamp, account!, container!, requested ?? 0)
      const row: ObjectRow = { name: obj, created_at: timestamp, size, content_type: contentType, etag, deleted: 0,
        storage_policy_index: requested ?? 0 }
      const ctypeTs = h['x-content-type-timestamp']
      const metaTs = h['x-meta-timestamp']
      if (ctypeTs) row.ctype_timestamp = checkedTimestamp(ctypeTs, 'X-Content-Type-Timestamp')
      if (metaTs) row.meta_timestamp = checkedTimestamp(metaTs, 'X-Meta-Timestamp')
      await broker.enqueue(row)
      return respond(201)
    }
    // PUT of the container itself (Swift's PUT_container / _update_or_create).
    const requested = policies.requested(h)
    const newPolicy = requested ?? policies.defaultFromHeader(h)
    let broker = find(path)
    let created = false
    if (!broker) [broker, created] = create(path, () => ContainerBroker.create(path, { account: account!,
      container: container!, putTimestamp: timestamp, storagePolicyIndex: newPolicy }))
    if (!created) {
      const recreated = broker.isDeleted()
      if (recreated) {
        broker.setStoragePolicyIndex(newPolicy, timestamp) // only a deleted container may change policy
      } else if (requested !== undefined && requested !== broker.storagePolicyIndex) {
        return respond(409, { 'x-backend-storage-policy-index': String(broker.storagePolicyIndex) })
      }
      broker.updatePutTimestamp(timestamp)
      if (broker.isDeleted()) return respond(409) // this PUT is older than the DELETE
      if (recreated) broker.updateStatusChangedAt(timestamp)
      created = recreated
    }
    broker.updateMetadata(metadataFromHeaders(h, 'container', timestamp, SAVE_HEADERS), true)
    // Read before awaiting: an idle broker may be closed by the cache meanwhile.
    const policy = String(broker.storagePolicyIndex)
    const failed = await accountUpdate(h, account!, container!, broker, 'PUT', req.path)
    if (failed) return failed
    return respond(created ? 201 : 202, { 'x-backend-storage-policy-index': policy })
  }

  async function DELETE(req: BackendRequest, h: Record<string, string>): Promise<BackendResponse> {
    const [device, part, account, container, obj] = splitPath(req.path, 4, 5, true) as string[]
    const timestamp = requireTimestamp(h)
    devices.check(device!)
    const path = pathOf(device!, part!, account!, container!)
    if (obj) {
      const policy = policies.requested(h) ?? 0
      const broker = maybeAutocreate(path, h, timestamp, account!, container!, policy)
      await broker.enqueue(tombstone(obj, timestamp, policy))
      return respond(204)
    }
    const broker = find(path)
    if (!broker) return respond(404)
    if (!broker.empty()) return respond(409)
    const info = broker.getInfo()
    const existed = parseTs(info.put_timestamp || '0').raw > 0 && !containerInfoIsDeleted(info)
    broker.deleteDb(timestamp)
    if (!broker.isDeleted()) return respond(409) // an object or a newer PUT arrived
    const failed = await accountUpdate(h, account!, container!, broker, 'DELETE', req.path)
    if (failed) return failed
    return respond(existed ? 204 : 404)
  }

  function HEAD_GET(req: BackendRequest, h: Record<string, string>, isGet: boolean): BackendResponse {
    const [device, part, account, container] = splitPath(req.path, 4, 5, true) as string[]
    const params = isGet ? listParams(req.query) : undefined
    const contentType = listingContentType(req.query, h['accept'])
    devices.check(device!)
    const broker = find(pathOf(device!, part!, account!, container!))
    const info = broker?.getInfo()
    const deleted = !info || containerInfoIsDeleted(info)
    const headers = respHeaders(info, deleted)
    if (!broker || !info || deleted) return respond(404, headers)
    const lastModified = tsHttpDate(parseTs(info.put_timestamp || ZERO_TIMESTAMP))
    if (!params) {
      addMetadata(headers, broker)
      return respond(204, { ...headers, 'content-type': `${contentType}; charset=utf-8`, 'content-length': '0',
        'last-modified': lastModified })
    }
    const policy = policies.requested(h) ?? info.storage_policy_index
    headers['x-backend-record-type'] = 'object'
    headers['x-backend-record-storage-policy-index'] = String(policy)
    const rows = broker.listObjects({ ...params, storagePolicyIndex: policy,
      allowReserved: isTrue(h['x-backend-allow-reserved-names']) })
    const listing = rows.map((r) => ('subdir' in r ? r : objectEntry(r)))
    addMetadata(headers, broker)
    const body = renderContainerListing(listing, container!, contentType)
    return { status: body.length ? 200 : 204, headers: { ...headers, 'content-type': `${contentType}; charset=utf-8`,
      'content-length': String(body.length), 'last-modified': lastModified }, body: body.length ? body : undefined }
  }

  function POST(req: BackendRequest, h: Record<string, string>): BackendResponse {
    const [device, part, account, container] = splitPath(req.path, 4, 4) as string[]
    const timestamp = requireTimestamp(h)
    devices.check(device!)
    const broker = find(pathOf(device!, part!, account!, container!))
    if (!broker || broker.isDeleted()) return respond(404)
    if (!isTrue(h['x-backend-no-timestamp-update'])) broker.updatePutTimestamp(timestamp)
    broker.updateMetadata(metadataFromHeaders(h, 'container', timestamp, SAVE_HEADERS), true)
    return respond(204)
  }

  /** Rows merged as sent (Swift's UPDATE verb). */
  async function UPDATE(req: BackendRequest, h: Record<string, string>): Promise<BackendResponse> {
    const [device, part, account, container] = splitPath(req.path, 4, 4) as string[]
    const timestamp = requireTimestamp(h)
    devices.check(device!)
    const requested = policies.requested(h)
    const rows = toObjectRows(await readJsonBody(req.body))
    const path = pathOf(device!, part!, account!, container!)
    maybeAutocreate(path, h, timestamp, account!, container!, requested).mergeItems(rows)
    return respond(202)
  }

  const hooks: ReplicateHooks<ContainerBroker, ObjectRow> = {
    find: (device, part, hash) => find(dbFilePath(opts.devices, device, 'containers', part, hash)),
    create(device, part, hash, info) {
      const account = info.account
      const container = info.container
      if (typeof account !== 'string' || typeof container !== 'string' || !account || !container) {
        throw new DbError(400, 'Invalid create arguments: account and container are required')
      }
      if (opts.hashPath(account, container) !== hash) throw new DbError(400, 'Invalid create arguments: wrong hash')
      const path = dbFilePath(opts.devices, device, 'containers', part, hash)
      const existing = find(path)
      if (existing) return [existing, false]
      return create(path, () => ContainerBroker.create(path, {
        account, container,
        putTimestamp: normalizeTimestamp(String(info.put_timestamp ?? '0')),
        createdAt: normalizeTimestamp(String(info.created_at ?? '0')),
        deleteTimestamp: normalizeTimestamp(String(info.delete_timestamp ?? '0')),
        statusChangedAt: normalizeTimestamp(String(info.status_changed_at ?? info.put_timestamp ?? '0')),
        storagePolicyIndex: Number(info.storage_policy_index ?? 0) || 0,
        metadata: parseMetadataField(info.metadata),
      }))
    },
    rows: toObjectRows,
    beforeSync(broker, remote) {
      const info = broker.getInfo()
      const local = { ...info, count: info.object_count }
      if (remote.status_changed_at !== undefined && incorrectPolicyIndex(local, {
        put_timestamp: remote.put_timestamp, delete_timestamp: remote.delete_timestamp,
        status_changed_at: remote.status_changed_at, count: remote.count,
        storage_policy_index: remote.storage_policy_index,
      })) broker.setStoragePolicyIndex(remote.storage_policy_index!)
    },
  }

  const REPLICATE = (req: BackendRequest) => replicateRequest(req, devices, hooks)

  const handler = async (req: BackendRequest): Promise<BackendResponse> => {
    try {
      const h = lowerHeaders(req.headers)
      switch (req.method) {
        case 'PUT': return await PUT(req, h)
        case 'DELETE': return await DELETE(req, h)
        case 'HEAD': return HEAD_GET(req, h, false)
        case 'GET': return HEAD_GET(req, h, true)
        case 'POST': return POST(req, h)
        case 'UPDATE': return await UPDATE(req, h)
        case 'REPLICATE': return await REPLICATE(req)
        default: return respond(405, { allow: 'PUT, DELETE, HEAD, GET, POST, UPDATE, REPLICATE' })
      }
    } catch (err) {
      return errorResponse(err, logger, req)
    }
  }
  return Object.assign(handler, {
    close: () => cache.closeAll(),
    broker: (device: string, partition: string | number, account: string, container: string) =>
      find(pathOf(device, String(partition), account, container)),
    forget: (dbPath: string) => cache.evict(dbPath),
  })
}

function checkedTimestamp(v: string, name: string): string {
  try { return parseTs(v).internal } catch { throw new DbError(400, `Invalid ${name} header`) }
}

function parseMetadataField(v: unknown) {
  if (v === undefined || v === null || v === '') return undefined
  return parseMetadata(v)
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms)
  })
  return Promise.race([p, t]).finally(() => clearTimeout(timer))
}
