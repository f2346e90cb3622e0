// Account and container info (Swift's get_account_info / get_container_info): whether they
// exist, the container's ACLs and storage policy. Every object request needs them, so answers
// are kept briefly (Swift keeps them in memcache for recheck_*_existence seconds) and this
// proxy forgets an entry as soon as it changes the account or container itself.
import { ACCOUNT_ACL_SYSMETA, type AccountAcls, accountAclsOf } from './account-acl.ts'
import type { NodeAnswer } from './quorum.ts'
import { type StorageClient, entityPath } from './storage-client.ts'

/** What object requests need to know about their container. */
export interface ContainerInfo {
  /** The backend answer's status: 2xx exists, 404 missing, 503 unknown. */
  status: number
  readAcl?: string
  writeAcl?: string
  /** Storage policy index of the container's objects. */
  policy: number
  objectCount: number
  bytes: number
  /** X-Container-Sync-Key / -To (container sync). */
  syncKey?: string
  syncTo?: string
  /** The container's CORS settings (X-Container-Meta-Access-Control-*), as Swift's info['cors']. */
  cors: ContainerCors
  /** The HEAD answer's headers (metadata, timestamps). */
  headers: Record<string, string>
}

/** A container's CORS metadata. */
export interface ContainerCors {
  /** Space-separated allowed origins, or "*". */
  allowOrigin?: string
  /** Space-separated headers to expose besides Swift's. */
  exposeHeaders?: string
  /** Preflight cache lifetime in seconds (passed through as set). */
  maxAge?: string
}

/** What container requests need to know about their account. */
export interface AccountInfo {
  status: number
  containerCount: number
  /** X-Account-Access-Control, parsed; undefined when none is set. */
  acl?: AccountAcls
  headers: Record<string, string>
}

/** Cache lifetimes. */
export interface InfoCacheOptions {
  /** How long an existing container/account is trusted (Swift's recheck_*_existence). Default 10 s. */
  ttlMs?: number
  /** How long a missing one is trusted. Default 2 s. */
  missTtlMs?: number
  /** Entries kept before the cache is emptied. Default 20 000. */
  maxEntries?: number
}

interface Entry<T> { until: number; value: Promise<T>; settled?: T }

/** Cached account and container lookups. */
export class InfoCache {
  private readonly entries = new Map<string, Entry<ContainerInfo | AccountInfo>>()
  private readonly ttl: number
  private readonly missTtl: number
  private readonly max: number

  constructor(private readonly client: StorageClient, private readonly headers: () => Record<string, string>, opts: InfoCacheOptions = {}) {
    this.ttl = opts.ttlMs ?? 10_000
    this.missTtl = opts.missTtlMs ?? 2_000
    this.max = opts.maxEntries ?? 20_000
  }

  /** Info of a container (a HEAD to its replicas unless cached). */
  container(account: string, container: string): Promise<ContainerInfo> {
    return this.cached(`c/${account}/${container}`, async () => {
      const part = this.client.ring('container').getPartition(this.client.hashConfig, account, container)
      return containerInfoOf(await this.client.readNewest('container', part, 'HEAD', entityPath(account, container), this.headers()))
    }) as Promise<ContainerInfo>
  }

  /** Info of an account (a HEAD to its replicas unless cached). */
  account(account: string): Promise<AccountInfo> {
    return this.cached(`a/${account}`, async () => {
      const part = this.client.ring('account').getPartition(this.client.hashConfig, account)
      return accountInfoOf(await this.client.readNewest('account', part, 'HEAD', entityPath(account), this.headers()))
    }) as Promise<AccountInfo>
  }

  /** Records a fresh container answer (from a client's HEAD/GET). */
  setContainer(account: string, container: string, answer: NodeAnswer): void {
    this.store(`c/${account}/${container}`, containerInfoOf(answer))
  }

  /** Records a fresh account answer. */
  setAccount(account: string, answer: NodeAnswer): void {
    this.store(`a/${account}`, accountInfoOf(answer))
  }

  /**
   * The cached info of an account when a lookup has already finished and is still fresh, without
   * waiting (for synchronous checks after an awaited `account()`); undefined otherwise.
   */
  peekAccount(account: string): AccountInfo | undefined {
    const hit = this.entries.get(`a/${account}`)
    return hit && hit.until > Date.now() ? hit.settled as AccountInfo | undefined : undefined
  }

  forgetContainer(account: string, container: string): void { this.entries.delete(`c/${account}/${container}`) }
  forgetAccount(account: string): void { this.entries.delete(`a/${account}`) }

  private store(key: string, info: ContainerInfo | AccountInfo): void {
    this.evictIfFull()
    this.entries.set(key, { until: Date.now() + (isFound(info.status) ? this.ttl : this.missTtl), value: Promise.resolve(info), settled: info })
  }

  private cached(key: string, load: () => Promise<ContainerInfo | AccountInfo>): Promise<ContainerInfo | AccountInfo> {
    const now = Date.now()
    const hit = this.entries.get(key)
    if (hit && hit.until > now) return hit.value
    this.evictIfFull()
    // Concurrent requests share one lookup; an answer that is neither found nor missing (503)
    // is not kept.
    const value = load()
    const entry: Entry<ContainerInfo | AccountInfo> = { until: now + this.missTtl, value }
    this.entries.set(key, entry)
    value.then((info) => {
      if (this.entries.get(key) !== entry) return
      entry.settled = info
      if (isFound(info.status)) entry.until = Date.now() + this.ttl
      else if (info.status !== 404) this.entries.delete(key)
    }, () => { if (this.entries.get(key) === entry) this.entries.delete(key) })
    return value
  }

  private evictIfFull(): void {
    if (this.entries.size >= this.max) this.entries.clear()
  }
}

const isFound = (s: number) => s >= 200 && s < 300

function int(v: string | undefined): number {
  const n = Number(v)
  return Number.isFinite(n) ? n : 0
}

/** ContainerInfo of a container server's HEAD answer. */
export function containerInfoOf(a: NodeAnswer): ContainerInfo {
  const h = a.headers
  return {
    status: a.status,
    readAcl: h['x-container-read'],
    writeAcl: h['x-container-write'],
    policy: int(h['x-backend-storage-policy-index']),
    objectCount: int(h['x-container-object-count']),
    bytes: int(h['x-container-bytes-used']),
    syncKey: h['x-container-sync-key'] || undefined,
    syncTo: h['x-container-sync-to'] || undefined,
    cors: {
      allowOrigin: h['x-container-meta-access-control-allow-origin'],
      exposeHeaders: h['x-container-meta-access-control-expose-headers'],
      maxAge: h['x-container-meta-access-control-max-age'],
    },
    headers: h,
  }
}

/** AccountInfo of an account server's HEAD answer. */
export function accountInfoOf(a: NodeAnswer): AccountInfo {
  return { status: a.status, containerCount: int(a.headers['x-account-container-count']),
    acl: accountAclsOf(a.headers[ACCOUNT_ACL_SYSMETA]), headers: a.headers }
}
