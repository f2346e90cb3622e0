// The account server (Swift's swift/account/server.py) as a BackendHandler:
//   PUT    /<dev>/<part>/<acct>          create or update an account (201/202; 403 when recently deleted)
//   PUT    /<dev>/<part>/<acct>/<cont>   a container server's report (201; 204 for a deleted container)
//   DELETE /<dev>/<part>/<acct>          mark deleted (204, X-Account-Status: Deleted)
//   HEAD, GET (listing of containers), POST (metadata), REPLICATE (db-replicate.ts)
import type { BackendHandler, BackendRequest, BackendResponse } from './backend.ts'
import { lowerHeaders } from './backend.ts'
import { AccountBroker, toContainerRows, type AccountInfo, type ContainerRow } from './account-broker.ts'
import { BrokerCache, DbError, dbFilePath } from './db-broker.ts'
import { parseMetadata, replicateRpc, type ReplicateHooks } from './db-replicate.ts'
import { brokerLookup, consoleLogger, policyTools, type DbServerOptions } from './db-server-setup.ts'
import {
  DeviceChecker, errorResponse, intHeader, listParams, metadataFromHeaders, readJsonBody, requireTimestamp, respond,
  replicateRequest, splitPath, textResponse, timestampHeader,
} from './db-server.ts'
import { compareTimestamps, normalizeTimestamp, nowTimestamp, parseTs } from './db-timestamp.ts'
import { isTrue } from './storage-util.ts'
import { containerEntry, listingContentType, renderAccountListing } from './listing.ts'

/** Options of the account server. */
export type AccountServerOptions = DbServerOptions

/** An account server: a BackendHandler that also closes its open DBs. */
export type AccountServer = BackendHandler & {
  /** Commits queued rows and closes every open DB. */
  close(): void
  /** The open broker of an account, if its DB exists (for the replicator and tests). */
  broker(device: string, partition: string | number, account: string): AccountBroker | undefined
  /** Closes and forgets a cached DB, before something else removes or replaces its file. */
  forget(dbPath: string): void
}

/** Creates the account server over the devices directory `opts.devices`. */
export function createAccountServer(opts: AccountServerOptions): AccountServer {
  const cache = new BrokerCache<AccountBroker>(opts.maxOpenDbs ?? 128)
  const devices = new DeviceChecker(opts.devices, opts.mountCheck)
  const policies = policyTools(opts.policies)
  const autoPrefix = opts.autoCreateAccountPrefix ?? '.'
  const logger = opts.logger ?? consoleLogger

  const pathOf = (device: string, part: string, account: string) =>
    dbFilePath(opts.devices, device, 'accounts', part, opts.hashPath(account))

  const { find, create } = brokerLookup(cache, 'accounts', AccountBroker.open, logger)

  /** 404/204 for a missing or deleted account, saying so when it was explicitly deleted. */
  function deletedResponse(broker: AccountBroker | undefined, status: number): BackendResponse {
    return respond(status, broker?.isStatusDeleted() ? { 'x-account-status': 'Deleted' } : {})
  }

  function infoHeaders(broker: AccountBroker, info: AccountInfo): Record<string, string> {
    const h: Record<string, string> = {
      'x-account-container-count': String(info.container_count),
      'x-account-object-count': String(info.object_count),
      'x-account-bytes-used': String(info.bytes_used),
      'x-timestamp': parseTs(info.created_at).normal,
      'x-put-timestamp': parseTs(info.put_timestamp).normal,
    }
    for (const [index, stats] of Object.entries(broker.getPolicyStats())) {
      const name = policies.name(Number(index))
      if (name === undefined) continue
      const prefix = `x-account-storage-policy-${name.toLowerCase()}-`
      h[prefix + 'container-count'] = String(stats.container_count)
      h[prefix + 'object-count'] = String(stats.object_count)
      h[prefix + 'bytes-used'] = String(stats.bytes_used)
    }
    for (const [key, [value]] of Object.entries(broker.metadata)) if (value !== '') h[key.toLowerCase()] = value
    return h
  }

  async function PUT(req: BackendRequest, h: Record<string, string>): Promise<BackendResponse> {
    const [device, part, account, container] = splitPath(req.path, 3, 4) as string[]
    devices.check(device!)
    const path = pathOf(device!, part!, account!)
    if (container) {
      const timestamp = h['x-timestamp'] === undefined ? nowTimestamp() : requireTimestamp(h)
      const row: Omit<ContainerRow, 'deleted'> = {
        name: container,
        put_timestamp: timestampHeader(h, 'x-put-timestamp'),
        delete_timestamp: timestampHeader(h, 'x-delete-timestamp'),
        object_count: intHeader(h, 'x-object-count'),
        bytes_used: intHeader(h, 'x-bytes-used'),
        storage_policy_index: h['x-backend-storage-policy-index'] === undefined ? 0
          : intHeader(h, 'x-backend-storage-policy-index'),
      }
      let broker = find(path)
      if (!broker && account!.startsWith(autoPrefix)) {
        [broker] = create(path, () => AccountBroker.create(path, { account: account!, putTimestamp: timestamp }))
      }
      const override = (h['x-account-override-deleted'] ?? 'no').toLowerCase() === 'yes'
      if (!broker || (!override && broker.isDeleted())) return respond(404)
      const deleted = compareTimestamps(row.delete_timestamp, row.put_timestamp) > 0 && row.object_count === 0 ? 1 : 0
      await broker.enqueue({ ...row, deleted })
      return respond(compareTimestamps(row.delete_timestamp, row.put_timestamp) > 0 ? 204 : 201)
    }
    const timestamp = requireTimestamp(h)
    let broker = find(path)
    let created: boolean
    if (!broker) {
      [broker, created] = create(path, () => AccountBroker.create(path, { account: account!, putTimestamp: timestamp }))
    } else if (broker.isStatusDeleted()) {
      return textResponse(403, 'Recently deleted', deletedResponse(broker, 403).headers)
    } else {
      created = broker.isDeleted()
      broker.updatePutTimestamp(timestamp)
      if (broker.isDeleted()) return respond(409)
    }
    broker.updateMetadata(metadataFromHeaders(h, 'account', timestamp), true)
    return respond(created ? 201 : 202)
  }

  function DELETE(req: BackendRequest, h: Record<string, string>): BackendResponse {
    const [device, part, account] = splitPath(req.path, 3, 3) as string[]
    devices.check(device!)
    const timestamp = requireTimestamp(h)
    const broker = find(pathOf(device!, part!, account!))
    if (!broker || broker.isDeleted()) return deletedResponse(broker, 404)
    broker.deleteDb(timestamp)
    return deletedResponse(broker, 204)
  }

  function HEAD_GET(req: BackendRequest, h: Record<string, string>, isGet: boolean): BackendResponse {
    const [device, part, account] = splitPath(req.path, 3, 3) as string[]
    const params = isGet ? listParams(req.query) : undefined
    const contentType = listingContentType(req.query, h['accept'])
    devices.check(device!)
    const broker = find(pathOf(device!, part!, account!))
    if (!broker || broker.isDeleted()) return deletedResponse(broker, 404)
    const headers = infoHeaders(broker, broker.getInfo())
    headers['content-type'] = `${contentType}; charset=utf-8`
    if (!params) return respond(204, { ...headers, 'content-length': '0' })
    // Swift's account listing ignores `path`.
    const rows = broker.listContainers({ ...params, path: undefined,
      allowReserved: isTrue(h['x-backend-allow-reserved-names']) })
    const listing = rows.map((r) => ('subdir' in r ? r : containerEntry(r, policies.name(r.storage_policy_index))))
    const body = renderAccountListing(listing, account!, contentType)
    if (body.length === 0) return respond(204, { ...headers, 'content-length': '0' })
    return { status: 200, headers: { ...headers, 'content-length': String(body.length) }, body }
  }

  function POST(req: BackendRequest, h: Record<string, string>): BackendResponse {
    const [device, part, account] = splitPath(req.path, 3, 3) as string[]
    const timestamp = requireTimestamp(h)
    devices.check(device!)
    const broker = find(pathOf(device!, part!, account!))
    if (!broker || broker.isDeleted()) return deletedResponse(broker, 404)
    broker.updateMetadata(metadataFromHeaders(h, 'account', timestamp), true)
    return respond(204)
  }

  const hooks: ReplicateHooks<AccountBroker, ContainerRow> = {
    find: (device, part, hash) => find(dbFilePath(opts.devices, device, 'accounts', part, hash)),
    create(device, part, hash, info) {
      const account = info.account
      if (typeof account !== 'string' || !account) throw new DbError(400, 'Invalid create arguments: account is required')
      if (opts.hashPath(account) !== hash) throw new DbError(400, 'Invalid create arguments: wrong hash')
      const path = dbFilePath(opts.devices, device, 'accounts', part, hash)
      const existing = find(path)
      if (existing) return [existing, false]
      const md = info.metadata
      return create(path, () => AccountBroker.create(path, {
        account,
        putTimestamp: normalizeTimestamp(String(info.put_timestamp ?? '0')),
        createdAt: normalizeTimestamp(String(info.created_at ?? '0')),
        deleteTimestamp: normalizeTimestamp(String(info.delete_timestamp ?? '0')),
        statusChangedAt: normalizeTimestamp(String(info.status_changed_at ?? info.put_timestamp ?? '0')),
        metadata: md === undefined || md === null || md === '' ? undefined : parseMetadata(md),
      }))
    },
    rows: toContainerRows,
  }

  const REPLICATE = (req: BackendRequest) => replicateRequest(req, devices, hooks)

  const handler = async (req: BackendRequest): Promise<BackendResponse> => {
    try {
      const h = lowerHeaders(req.headers)
      switch (req.method) {
        case 'PUT': return await PUT(req, h)
        case 'DELETE': return DELETE(req, h)
        case 'HEAD': return HEAD_GET(req, h, false)
        case 'GET': return HEAD_GET(req, h, true)
        case 'POST': return POST(req, h)
        case 'REPLICATE': return await REPLICATE(req)
        default: return respond(405, { allow: 'PUT, DELETE, HEAD, GET, POST, REPLICATE' })
      }
    } catch (err) {
      return errorResponse(err, logger, req)
    }
  }
  return Object.assign(handler, {
    close: () => cache.closeAll(),
    broker: (device: string, partition: string | number, account: string) =>
      find(pathOf(device, String(partition), account)),
    forget: (dbPath: string) => cache.evict(dbPath),
  })
}
