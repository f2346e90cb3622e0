// Container sync realms (Swift's container_sync_realms.py and utils.validate_sync_to): which
// clusters containers may sync to, with the realm keys that sign every sync request. Realms come
// from a container-sync-realms.conf file (Swift's format, reloaded when it changes) and from
// realms the cloud defines itself (all-in-one: a realm naming this very cluster, so containers
// can sync to other accounts here with //realm/cluster/AUTH_x/c).
import { createHmac, timingSafeEqual } from 'node:crypto'
import { readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import type { HashConfig } from '../ring/hash.ts'

/** One realm: its keys (key2 is accepted too, for rotation) and cluster name → endpoint (…/v1/). */
export interface SyncRealm {
  key?: string
  key2?: string
  clusters: Record<string, string>
}

/** A realm defined by the cloud rather than the file. */
export interface StaticRealm {
  realm: string
  key: string
  key2?: string
  clusters: Record<string, string>
}

/** Options of the realms. */
export interface ContainerSyncRealmsOptions {
  /** A container-sync-realms.conf; absent is fine (no realms from it). */
  file?: string
  /** Realms added to the file's (the file's win on a name clash). */
  extra?: readonly StaticRealm[]
  /** Clock in ms (tests). */
  now?: () => number
}

/**
 * The realms, as Swift's ContainerSyncRealms: names are case-insensitive (kept upper-case); the
 * file's mtime is checked at most every mtime_check_interval seconds (default 300, settable in
 * its [DEFAULT] section), and it is re-read when it changed.
 */
export class ContainerSyncRealms {
  private data = new Map<string, SyncRealm>()
  private nextCheck = 0
  private checkEvery = 300_000
  private mtime = -1
  private readonly now: () => number

  constructor(private readonly o: ContainerSyncRealmsOptions = {}) {
    this.now = o.now ?? Date.now
    this.reload()
  }

  /** Re-reads the file now. */
  reload(): void {
    this.nextCheck = 0
    this.mtime = -1
    this.refresh()
  }

  private refresh(): void {
    const now = this.now()
    if (now < this.nextCheck) return
    this.nextCheck = now + this.checkEvery
    let fileRealms = new Map<string, SyncRealm>()
    if (this.o.file) {
      let mtime: number
      try { mtime = statSync(this.o.file).mtimeMs } catch { mtime = -2 }
      if (mtime === this.mtime) return
      this.mtime = mtime
      if (mtime >= 0) {
        const parsed = parseRealmsConf(readFileSync(this.o.file, 'utf8'))
        fileRealms = parsed.realms
        this.checkEvery = parsed.mtimeCheckInterval * 1000
        this.nextCheck = now + this.checkEvery
      }
    } else if (this.data.size) {
      return
    }
    for (const r of this.o.extra ?? []) {
      const name = r.realm.toUpperCase()
      if (fileRealms.has(name)) continue
      const clusters: Record<string, string> = {}
      for (const [c, url] of Object.entries(r.clusters)) clusters[c.toUpperCase()] = url
      fileRealms.set(name, { key: r.key, key2: r.key2, clusters })
    }
    this.data = fileRealms
  }

  /** Realm names (upper-case). */
  realms(): string[] { this.refresh(); return [...this.data.keys()] }
  key(realm: string): string | undefined { this.refresh(); return this.data.get(realm.toUpperCase())?.key }
  key2(realm: string): string | undefined { this.refresh(); return this.data.get(realm.toUpperCase())?.key2 }
  /** Cluster names (upper-case) of a realm. */
  clusters(realm: string): string[] { this.refresh(); return Object.keys(this.data.get(realm.toUpperCase())?.clusters ?? {}) }
  endpoint(realm: string, cluster: string): string | undefined {
    this.refresh()
    return this.data.get(realm.toUpperCase())?.clusters[cluster.toUpperCase()]
  }
}

/** Parses Swift's container-sync-realms.conf (an INI file; [DEFAULT] values apply to every realm). */
export function parseRealmsConf(text: string): { realms: Map<string, SyncRealm>; mtimeCheckInterval: number } {
  const sections = new Map<string, Map<string, string>>()
  let current: Map<string, string> | undefined
  let lastKey: string | undefined
  for (const raw of text.split(/\r?\n/)) {
    if (/^\s*([#;]|$)/.test(raw)) continue
    if (/^\s/.test(raw) && current && lastKey) { // a continuation line
      current.set(lastKey, `${current.get(lastKey)}\n${raw.trim()}`)
      continue
    }
    const sec = /^\[(.+)\]\s*$/.exec(raw)
    if (sec) {
      const name = sec[1]!
      current = sections.get(name) ?? new Map()
      sections.set(name, current)
      lastKey = undefined
      continue
    }
    const kv = /^([^=:]+?)\s*[=:]\s*(.*)$/.exec(raw)
    if (!kv || !current) continue
    lastKey = kv[1]!.trim().toLowerCase()
    current.set(lastKey, kv[2]!.trim())
  }
  const defaults = sections.get('DEFAULT') ?? new Map<string, string>()
  const interval = Number(defaults.get('mtime_check_interval') ?? 300)
  const realms = new Map<string, SyncRealm>()
  for (const [name, opts] of sections) {
    if (name === 'DEFAULT') continue
    const realm: SyncRealm = { clusters: {} }
    for (const [k, v] of [...defaults, ...opts]) {
      if (k === 'key') realm.key = v
      else if (k === 'key2') realm.key2 = v
      else if (k.startsWith('cluster_')) realm.clusters[k.slice(8).toUpperCase()] = v
    }
    realms.set(name.toUpperCase(), realm)
  }
  return { realms, mtimeCheckInterval: Number.isFinite(interval) && interval >= 0 ? interval : 300 }
}

/**
 * Swift's get_sig: hex HMAC-SHA1, keyed by the realm key, of
 * "METHOD\npath\nx-timestamp\nnonce\nuser key" (the path URL-encoded, as sent).
 */
export function syncSignature(method: string, path: string, xTimestamp: string, nonce: string, realmKey: string, userKey: string): string {
  return createHmac('sha1', realmKey).update(`${method}\n${path}\n${xTimestamp}\n${nonce}\n${userKey}`).digest('hex')
}

/** Constant-time string equality (Swift's streq_const_time). */
export function constEq(a: string, b: string): boolean {
  const x = Buffer.from(a)
  const y = Buffer.from(b)
  return x.length === y.length && timingSafeEqual(x, y)
}

/** Python's urllib.parse.quote(s, safe='/'): what Swift signs and puts on the wire. */
export function pyQuote(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
    .replace(/%2F/g, '/')
}

/** The outcome of validate_sync_to: an error, or where to sync (with the realm for signed requests). */
export interface SyncTarget {
  error?: string
  /** …/v1/<account>/<container> of the destination; undefined (no error) for an empty value. */
  endpoint?: string
  realm?: string
  realmKey?: string
}

/**
 * Swift's validate_sync_to: "//realm/cluster/account/container" through the realms, or an
 * http(s) URL with a path whose host is in allowed_sync_hosts. Error texts are Swift's.
 */
export function validateSyncTo(value: string, allowedSyncHosts: readonly string[], realms?: ContainerSyncRealms): SyncTarget {
  const orig = value
  const v = value.replace(/\/+$/, '')
  if (!v) return {}
  if (v.startsWith('//')) {
    if (!realms) return {}
    const data = v.slice(2).split('/')
    if (data.length !== 4) return { error: `Invalid X-Container-Sync-To format ${pyStr(orig)}` }
    const [realm, cluster, account, container] = data as [string, string, string, string]
    const realmKey = realms.key(realm)
    if (!realmKey) return { error: `No realm key for ${pyStr(realm)}` }
    const endpoint = realms.endpoint(realm, cluster)
    if (!endpoint) return { error: `No cluster endpoint for ${pyStr(realm)} ${pyStr(cluster)}` }
    return { endpoint: `${endpoint.replace(/\/+$/, '')}/${account}/${container}`, realm: realm.toUpperCase(), realmKey }
  }
  let u: URL
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(v)?.[1]?.toLowerCase() ?? ''
  if (scheme !== 'http' && scheme !== 'https') {
    return { error: `Invalid scheme ${pyStr(scheme)} in X-Container-Sync-To, must be "//", "http", or "https".` }
  }
  try { u = new URL(v) } catch { return { error: `Invalid host ${pyStr('')} in X-Container-Sync-To` } }
  const path = v.replace(/^[^:]+:\/\/[^/?#]*/, '')
  if (!path || path.startsWith('?') || path.startsWith('#')) return { error: 'Path required in X-Container-Sync-To' }
  if (u.search || u.hash || /;[^/]*$/.test(u.pathname)) {
    return { error: 'Params, queries, and fragments not allowed in X-Container-Sync-To' }
  }
  const host = u.hostname.replace(/^\[|\]$/g, '').toLowerCase()
  if (!allowedSyncHosts.includes(host)) return { error: `Invalid host ${pyStr(host)} in X-Container-Sync-To` }
  return { endpoint: v }
}

/** Python's repr of a plain str (the form Swift's messages quote names in). */
function pyStr(s: string): string {
  return s.includes("'") && !s.includes('"') ? `"${s}"` : `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`
}

/** The proxy's and the sync daemon's container-sync configuration. */
export interface ContainerSyncSettings {
  realms: ContainerSyncRealms
  /** Hosts plain-URL X-Container-Sync-To values may name (Swift's allowed_sync_hosts). Default 127.0.0.1. */
  allowedSyncHosts: readonly string[]
  /** Whether plain URLs are accepted at all (the middleware's allow_full_urls). Default true. */
  allowFullUrls: boolean
  /** This cluster in the realms (the middleware's `current`), for /info. */
  current?: { realm: string; cluster: string }
}

/** Options of `containerSyncSettings`. */
export interface ContainerSyncSettingsOptions {
  /** container-sync-realms.conf path. */
  realmsFile?: string
  /**
   * A realm naming this cluster (all-in-one): containers may sync to other containers of this
   * cloud as //<realm>/<cluster>/<account>/<container>. Its key is derived from the cluster's
   * hash secret, so every node of the cluster agrees on it without another file.
   */
  self?: { realm: string; cluster: string; endpoint: string; hashConfig: HashConfig }
  allowedSyncHosts?: readonly string[]
  allowFullUrls?: boolean
}

/** The settings with Swift's defaults (allowed_sync_hosts 127.0.0.1, full URLs allowed). */
export function containerSyncSettings(o: ContainerSyncSettingsOptions = {}): ContainerSyncSettings {
  const extra: StaticRealm[] = []
  if (o.self) {
    const key = createHmac('sha256', `${o.self.hashConfig.prefix}/${o.self.hashConfig.suffix}`)
      .update('cumulo container-sync realm key').digest('hex')
    extra.push({ realm: o.self.realm, key, clusters: { [o.self.cluster]: o.self.endpoint } })
  }
  return {
    realms: new ContainerSyncRealms({ file: o.realmsFile, extra }),
    allowedSyncHosts: o.allowedSyncHosts ?? ['127.0.0.1'],
    allowFullUrls: o.allowFullUrls ?? true,
    current: o.self ? { realm: o.self.realm.toUpperCase(), cluster: o.self.cluster.toUpperCase() } : undefined,
  }
}

/** Container sync as the object store is configured (createObjectStore's `containerSync`). */
export interface ContainerSyncConfig {
  /** container-sync-realms.conf; default <dataDir>/container-sync-realms.conf (read when present). */
  realmsFile?: string
  /** A realm naming this cluster and its proxy's …/v1/ URL (all-in-one: //cumulo/local/…). */
  self?: { realm: string; cluster: string; endpoint: string }
  allowedSyncHosts?: readonly string[]
  allowFullUrls?: boolean
}

/** The settings of an object store: its realms file, and its own realm keyed by its hash secret. */
export function storeContainerSync(c: ContainerSyncConfig | undefined, dataDir: string, hashConfig: HashConfig): ContainerSyncSettings {
  return containerSyncSettings({
    realmsFile: c?.realmsFile ?? join(dataDir, 'container-sync-realms.conf'),
    self: c?.self && { ...c.self, hashConfig },
    allowedSyncHosts: c?.allowedSyncHosts, allowFullUrls: c?.allowFullUrls,
  })
}
