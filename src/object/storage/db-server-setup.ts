// Options and helpers the account and container servers are built with: storage policies,
// and opening a DB file that may turn out corrupt (moved to quarantine, as Swift does).
import { randomUUID } from 'node:crypto'
import { existsSync, mkdirSync, renameSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'
import type { StorageLogger } from './backend.ts'
import { type BrokerCache, DatabaseAlreadyExists, DbError, isCorruptDbError } from './db-broker.ts'

/** A storage policy as the DB servers need it: its index and name. */
export interface PolicyRef { index: number; name: string; isDefault?: boolean }

/** Swift's only policy when none is configured. */
export const DEFAULT_POLICIES: readonly PolicyRef[] = [{ index: 0, name: 'Policy-0', isDefault: true }]

/** What both DB servers are configured with. */
export interface DbServerOptions {
  /** The directory holding one directory per device (Swift's `devices`, /srv/node). */
  devices: string
  /** Swift's hash_path for (account[, container]); injected so the servers need no ring code. */
  hashPath: (account: string, container?: string) => string
  /** Require each device to be a mount point (Swift's mount_check); default false. */
  mountCheck?: boolean
  /** How many DBs stay open (LRU); default 128. */
  maxOpenDbs?: number
  /** The cluster's storage policies; default Policy-0 only. */
  policies?: readonly PolicyRef[]
  /** Accounts whose DBs the servers create on first use (Swift's auto_create_account_prefix); default '.'. */
  autoCreateAccountPrefix?: string
  /** Where errors that are not the client's go; default: console (errors and warnings). */
  logger?: StorageLogger
}

/** Storage policy lookups of a server. */
export interface PolicyTools {
  /** X-Backend-Storage-Policy-Index when present; DbError 400 when it names no policy. */
  requested(headers: Record<string, string>): number | undefined
  /** X-Backend-Storage-Policy-Default (sent by the proxy), else the default policy. */
  defaultFromHeader(headers: Record<string, string>): number
  /** A policy's name, undefined for an unknown index. */
  name(index: number): string | undefined
}

/** Builds the policy lookups for a list of policies. */
export function policyTools(list: readonly PolicyRef[] = DEFAULT_POLICIES): PolicyTools {
  const byIndex = new Map(list.map((p) => [p.index, p]))
  const defaultIndex = (list.find((p) => p.isDefault) ?? list[0] ?? DEFAULT_POLICIES[0]!).index
  const parse = (raw: string, header: string) => {
    if (!/^\s*\d+\s*$/.test(raw) || !byIndex.has(Number(raw))) throw new DbError(400, `Invalid ${header} '${raw}'`)
    return Number(raw)
  }
  return {
    requested(h) {
      const raw = h['x-backend-storage-policy-index']
      return raw === undefined ? undefined : parse(raw, 'X-Backend-Storage-Policy-Index')
    },
    defaultFromHeader(h) {
      const raw = h['x-backend-storage-policy-default']
      return raw === undefined ? defaultIndex : parse(raw, 'X-Backend-Storage-Policy-Default')
    },
    name: (index) => byIndex.get(index)?.name,
  }
}

/**
 * Opens a DB; a file SQLite cannot read as a DB is moved, with its directory, to
 * `<device>/quarantined/<datadir>/<hash>` (Swift's quarantine_db) and undefined is returned, so
 * replication can bring a good copy back.
 */
export function openOrQuarantine<B>(path: string, datadir: string, open: (path: string) => B,
                                    logger: StorageLogger): B | undefined {
  try {
    return open(path)
  } catch (err) {
    if (!isCorruptDbError(err)) throw err
    const hashDir = dirname(path)
    let device = hashDir
    for (let i = 0; i < 4; i++) device = dirname(device)
    const qdir = join(device, 'quarantined', datadir)
    mkdirSync(qdir, { recursive: true })
    let target = join(qdir, basename(hashDir))
    if (existsSync(target)) target += '-' + randomUUID().replace(/-/g, '')
    renameSync(hashDir, target)
    logger.error({ err, path, quarantined: target }, 'quarantined a corrupt DB')
    return undefined
  }
}

/** The logger used when none is given: errors and warnings to the console, the rest dropped. */
export const consoleLogger: StorageLogger = {
  error: (obj, msg) => console.error(msg ?? '', obj),
  warn: (obj, msg) => console.warn(msg ?? '', obj),
  info: () => {},
  debug: () => {},
}

/**
 * Finding and creating one kind of DB (accounts or containers) through the server's cache:
 * `find` opens an existing file (quarantining a corrupt one), `create` makes a new one unless
 * a concurrent request just did, and says which happened.
 */
export function brokerLookup<B extends { close(): void }>(cache: BrokerCache<B>, datadir: string,
    open: (path: string) => B, logger: StorageLogger) {
  function find(path: string): B | undefined {
    const hit = cache.get(path)
    // A cached handle outlives its file when the DB is removed under the server (a replaced
    // disk, an operator's rm): it would answer for rows on an unlinked inode, and replication
    // would never bring the file back. Swift opens the file on every request; one stat here.
    if (hit) {
      if (existsSync(path)) return hit
      cache.evict(path)
      return undefined
    }
    if (!existsSync(path)) return undefined
    const b = openOrQuarantine(path, datadir, open, logger)
    if (b) cache.set(path, b)
    return b
  }
  function create(path: string, make: () => B): [B, boolean] {
    try {
      const b = make()
      cache.set(path, b)
      return [b, true]
    } catch (err) {
      if (!(err instanceof DatabaseAlreadyExists)) throw err
      const b = find(path)
      if (!b) throw err
      return [b, false]
    }
  }
  return { find, create }
}
