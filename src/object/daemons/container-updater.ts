// The container updater (Swift's container/updater.py): keeps each account's per-container row
// (object count, bytes used, put/delete timestamps) current. Object writes change a container
// DB's counts but only container PUT/DELETE tell the account server synchronously, so without
// this daemon account HEADs and listings would show stale totals.
//
// For every local container DB whose counts or timestamps differ from what it last reported,
// the row is PUT to the account's replicas (as the container server's own account update); once
// a majority accepted it, the reported values are stored in the DB. An account whose replicas
// all answer 404 is left alone for a minute (Swift's account_suppression_time).
import type { Ring } from '../ring/ring.ts'
import { callBackend, drainBody } from '../storage/backend.ts'
import { ContainerBroker, type ContainerInfo } from '../storage/container-broker.ts'
import { quotePath } from '../storage/container-update.ts'
import { openOrQuarantine } from '../storage/db-server-setup.ts'
import { compareTimestamps } from '../storage/db-timestamp.ts'
import { type DaemonOptions, localDevs, mapLimit, silentLogger } from './common.ts'
import { PeriodicDaemon, checkStopped } from './daemon.ts'
import { listDbs } from './db-walk.ts'

/** Options of the container updater. */
export interface ContainerUpdaterOptions extends DaemonOptions {
  containerRing: Ring
  accountRing: Ring
  /** Containers processed at once. Default 4. */
  concurrency?: number
  /** How long an account whose replicas all said 404 is skipped, ms. Default 60 s. */
  accountSuppressionMs?: number
}

/** Counts of one container-updater pass. */
export interface ContainerUpdaterStats {
  /** Container DBs looked at. */
  checked: number
  /** Containers whose report a majority of account replicas accepted. */
  successes: number
  /** Containers whose report failed (retried next pass). */
  failures: number
  /** Containers skipped because their account was recently not found. */
  suppressed: number
}

/** True when the DB's state differs from what it last reported to the account. */
function needsReport(i: ContainerInfo): boolean {
  return compareTimestamps(i.put_timestamp, i.reported_put_timestamp) > 0 ||
    compareTimestamps(i.delete_timestamp, i.reported_delete_timestamp) > 0 ||
    i.object_count !== i.reported_object_count || i.bytes_used !== i.reported_bytes_used
}

/** The container updater daemon. */
export class ContainerUpdater extends PeriodicDaemon<ContainerUpdaterStats> {
  private readonly logger
  /** Account → time (ms) until which it is not updated. */
  private readonly suppressed = new Map<string, number>()

  constructor(private readonly opts: ContainerUpdaterOptions) {
    super('container-updater', opts.logger)
    this.logger = opts.logger ?? silentLogger
  }

  protected async pass(signal: AbortSignal): Promise<ContainerUpdaterStats> {
    const stats: ContainerUpdaterStats = { checked: 0, successes: 0, failures: 0, suppressed: 0 }
    const devs = localDevs(this.opts.containerRing, this.opts.myNodes, this.opts.devices)
    const dbs = await listDbs(this.opts.devicesRoot, devs, 'containers')
    await mapLimit(dbs, this.opts.concurrency ?? 4, async (db) => {
      checkStopped(signal)
      try {
        await this.processContainer(db.path, stats)
      } catch (err) {
        stats.failures++
        this.logger.error({ err, db: db.path }, 'container update failed')
      }
    })
    return stats
  }

  private async processContainer(path: string, stats: ContainerUpdaterStats): Promise<void> {
    let broker: ContainerBroker | undefined
    try {
      broker = openOrQuarantine(path, 'containers', ContainerBroker.open, this.logger)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'SQLITE_CANTOPEN') return // removed meanwhile
      throw err
    }
    if (!broker) return
    try {
      stats.checked++
      const info = broker.getInfo()
      if (!needsReport(info)) return
      const until = this.suppressed.get(info.account)
      if (until !== undefined && until > Date.now()) { stats.suppressed++; return }
      this.suppressed.delete(info.account)
      const { partition, nodes } = this.opts.accountRing.getNodes(this.opts.hashConfig, info.account)
      const headers = {
        'x-put-timestamp': info.put_timestamp, 'x-delete-timestamp': info.delete_timestamp,
        'x-object-count': String(info.object_count), 'x-bytes-used': String(info.bytes_used),
        'x-account-override-deleted': 'no', 'x-backend-storage-policy-index': String(info.storage_policy_index),
        'user-agent': 'container-updater',
      }
      const statuses = await Promise.all(nodes.map(async (node) => {
        try {
          const r = await callBackend(this.opts.client(node, 'account'), {
            method: 'PUT', path: `/${quotePath(node.device)}/${partition}/${quotePath(info.account)}/${quotePath(info.container)}`, headers,
          }, { timeoutMs: this.opts.timeoutMs ?? 10_000 })
          drainBody(r)
          return r.status
        } catch (err) {
          this.logger.warn({ err, account: info.account, device: node.device }, 'account update failed')
          return 0
        }
      }))
      const ok = statuses.filter((s) => s >= 200 && s < 300).length
      if (ok > nodes.length / 2) {
        broker.reported(info.put_timestamp, info.delete_timestamp, info.object_count, info.bytes_used)
        stats.successes++
        return
      }
      stats.failures++
      if (statuses.every((s) => s === 404)) this.suppressed.set(info.account, Date.now() + (this.opts.accountSuppressionMs ?? 60_000))
    } finally {
      broker.close()
    }
  }
}
