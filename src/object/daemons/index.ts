// The object store's background daemons for one storage node, built together: what all-in-one
// (and a storage-node process) starts next to its object, container and account servers.
import type { ContainerSyncSettings } from '../proxy/container-sync-realms.ts'
import type { Ring } from '../ring/ring.ts'
import type { ObjectDisk } from '../storage/diskfile.ts'
import type { DaemonOptions } from './common.ts'
import { ContainerSync } from './container-sync.ts'
import { ContainerUpdater } from './container-updater.ts'
import type { Daemon } from './daemon.ts'
import { DbReplicator } from './db-replicator.ts'
import { ObjectAuditor } from './object-auditor.ts'
import { ObjectExpirer } from './object-expirer.ts'
import { ObjectReplicator } from './object-replicator.ts'
import { ObjectUpdater } from './object-updater.ts'

export { type Daemon, PeriodicDaemon, StoppedError } from './daemon.ts'
export { type DaemonOptions, type NodeClient, type StorageServerKind, RateLimiter, localDevs, nodeKey } from './common.ts'
export { ContainerSync, type ContainerSyncOptions, type ContainerSyncStats } from './container-sync.ts'
export { ContainerUpdater, type ContainerUpdaterOptions, type ContainerUpdaterStats } from './container-updater.ts'
export { DbReplicator, type DbReplicatorOptions, type DbReplicatorStats } from './db-replicator.ts'
export { ObjectAuditor, type ObjectAuditorOptions, type ObjectAuditorStats } from './object-auditor.ts'
export { ObjectExpirer, type ObjectExpirerOptions, type ObjectExpirerStats } from './object-expirer.ts'
export { ObjectReplicator, type ObjectReplicatorOptions, type ObjectReplicatorStats } from './object-replicator.ts'
export { ObjectUpdater, type ObjectUpdaterOptions, type UpdaterStats } from './object-updater.ts'
export { pushObject, type PushResult } from './object-push.ts'

/** Names of the daemons, as keys of `intervals`. */
export type DaemonName = 'objectReplicator' | 'containerReplicator' | 'accountReplicator' | 'auditor' | 'updater' |
  'containerUpdater' | 'expirer' | 'containerSync'

/** Milliseconds between pass starts. Swift's defaults for replication (30 s); longer ones where a pass reads everything. */
export const DEFAULT_INTERVALS: Readonly<Record<DaemonName, number>> = {
  objectReplicator: 30_000,
  containerReplicator: 30_000,
  accountReplicator: 30_000,
  updater: 60_000,
  containerUpdater: 60_000,
  auditor: 3_600_000,
  expirer: 3_600_000,
  // Swift's is 300 s; a pass over containers without sync costs two stat() calls each here, so
  // synced objects can show up at their destination within half a minute.
  containerSync: 30_000,
}

/** Everything the daemons of one node need. */
export interface ObjectDaemonsOptions extends DaemonOptions {
  rings: {
    object: Ring
    container: Ring
    account: Ring
    /** Object rings of storage policies other than 0, by index. */
    policies?: Readonly<Record<number, Ring>>
  }
  /**
   * The object server's disk layer (createObjectDisk, passed to createObjectServer as `disk`).
   * Required: the suffix-hash cache and its lock must be the server's, or concurrent
   * invalidations can be lost.
   */
  disk: ObjectDisk
  /** The local container/account servers: their cached DB handles are closed before a DB is removed. */
  containerServer?: { forget(dbPath: string): void }
  accountServer?: { forget(dbPath: string): void }
  /** Per-daemon interval (ms); 0 leaves that daemon stopped. */
  intervals?: Partial<Record<DaemonName, number>>
  /** The auditor's read limits (default 10 MB/s, 20 files/s). */
  auditor?: { bytesPerSecond?: number; filesPerSecond?: number }
  /** Tombstone and deleted-DB reclaim age in seconds (default one week). */
  reclaimAge?: number
  /** Container sync realms and allowed hosts (the proxy's; default none and 127.0.0.1). */
  containerSync?: ContainerSyncSettings
}

/** The daemons of one node. */
export interface ObjectDaemons {
  objectReplicator: ObjectReplicator
  containerReplicator: DbReplicator
  accountReplicator: DbReplicator
  auditor: ObjectAuditor
  updater: ObjectUpdater
  /** Keeps account rows (counts, bytes) current. */
  containerUpdater: ContainerUpdater
  expirer: ObjectExpirer
  /** Replays rows of containers with X-Container-Sync-To to their destination. */
  containerSync: ContainerSync
  /** Starts every daemon whose interval is not 0 (first passes staggered over up to 15 s). */
  start(): void
  /** Stops them all, waiting for passes in progress. */
  stop(): Promise<void>
}

/** Builds the daemons of one storage node (nothing runs until `start`). */
export function createObjectDaemons(o: ObjectDaemonsOptions): ObjectDaemons {
  const base: DaemonOptions = {
    devicesRoot: o.devicesRoot, devices: o.devices, hashConfig: o.hashConfig, myNodes: o.myNodes, client: o.client,
    logger: o.logger, timeoutMs: o.timeoutMs,
  }
  const daemons = {
    objectReplicator: new ObjectReplicator({ ...base, ring: o.rings.object, policyRings: o.rings.policies, disk: o.disk,
      reclaimAge: o.reclaimAge }),
    containerReplicator: new DbReplicator({ ...base, kind: 'container', ring: o.rings.container,
      forgetDb: o.containerServer && ((p) => o.containerServer!.forget(p)), reclaimAge: o.reclaimAge }),
    accountReplicator: new DbReplicator({ ...base, kind: 'account', ring: o.rings.account,
      forgetDb: o.accountServer && ((p) => o.accountServer!.forget(p)), reclaimAge: o.reclaimAge }),
    auditor: new ObjectAuditor({ ...base, ring: o.rings.object, myNodes: o.myNodes, disk: o.disk, ...o.auditor }),
    updater: new ObjectUpdater({ ...base, containerRing: o.rings.container, ring: o.rings.object, myNodes: o.myNodes, disk: o.disk }),
    containerUpdater: new ContainerUpdater({ ...base, containerRing: o.rings.container, accountRing: o.rings.account }),
    expirer: new ObjectExpirer({ ...base, ring: o.rings.object, policyRings: o.rings.policies, containerRing: o.rings.container, disk: o.disk }),
    containerSync: new ContainerSync({ ...base, containerRing: o.rings.container, objectRing: o.rings.object,
      policyRings: o.rings.policies, settings: o.containerSync }),
  }
  const intervals = { ...DEFAULT_INTERVALS, ...o.intervals }
  const all = Object.entries(daemons) as [DaemonName, Daemon<unknown>][]
  return {
    ...daemons,
    start() {
      for (const [name, d] of all) {
        const every = intervals[name]
        if (every > 0) d.start(every, Math.floor(Math.random() * Math.min(every, 15_000)))
      }
    },
    async stop() {
      await Promise.all(all.map(([, d]) => d.stop()))
    },
  }
}
