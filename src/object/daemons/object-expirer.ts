// The object expirer, minimal: it walks the objects of the partitions this node's devices are
// primary for, and for each whose X-Delete-At has passed sends DELETE with X-If-Delete-At to the
// object servers of every primary (with the container-update headers, so listings drop it).
//
// Trade-off, stated plainly: Swift queues every X-Delete-At in a hidden `.expiring_objects`
// account and its expirer reads only that queue, so a pass costs O(objects due). This expirer
// reads the metadata header of every object on the node each pass, O(objects stored): fine for
// small and medium nodes with a long interval (default 1 h in all-in-one), wrong for big ones.
// Until the queue exists, an expired object is still never served: the object server answers
// 404 for it from the moment X-Delete-At passes; the expirer only reclaims the space and the
// listing row.
//
// The DELETE uses X-Timestamp = X-Delete-At (as Swift's expirer), so the tombstone is the same
// whichever replica's expirer sends it, and the X-If-Delete-At condition (412) keeps an object
// whose expiry was changed by a later POST or PUT.
import { open } from 'node:fs/promises'
import { join } from 'node:path'
import type { Dev, Ring } from '../ring/ring.ts'
import { Timestamp } from '../ring/timestamp.ts'
import { callBackend, drainBody } from '../storage/backend.ts'
import { type ObjectMetadata, decodeHeader, headerLength } from '../storage/datafile.ts'
import { type ObjectDisk, type ObjectLocation, createObjectDisk, dataDirName } from '../storage/diskfile.ts'
import { parseFilename } from '../storage/ondisk.ts'
import { type DaemonOptions, localDevs, mapLimit, nodeKey, sameDevice, silentLogger } from './common.ts'
import { PeriodicDaemon, checkStopped } from './daemon.ts'
import { objectPath } from './object-push.ts'

/** Options of the expirer. */
export interface ObjectExpirerOptions extends DaemonOptions {
  /** The object ring of policy 0. */
  ring: Ring
  /** Rings of other storage policies, by index. */
  policyRings?: Readonly<Record<number, Ring>>
  /** The container ring: the DELETEs carry container-update headers so listings drop the object. */
  containerRing?: Ring
  /**
   * The object server's disk layer when both run in one process (required then: suffix-hash
   * invalidations are serialized per ObjectDisk instance). Built from devicesRoot otherwise.
   */
  disk?: ObjectDisk
  /** Expired objects deleted at once. Default 8. */
  concurrency?: number
  /** Clock in ms (tests). */
  now?: () => number
}

/** Counts of one expirer pass. */
export interface ObjectExpirerStats {
  /** Objects (with a .data) whose metadata was read. */
  objectsChecked: number
  /** Objects found past their X-Delete-At. */
  expired: number
  /** Expired objects every primary answered for (deleted, already gone, or changed since). */
  deleted: number
  /** Expired objects some primary failed for (retried next pass). */
  failures: number
}

/** Reads just the metadata header of an object file (a few KiB, not the body). */
async function readHeader(path: string): Promise<ObjectMetadata> {
  const fh = await open(path, 'r')
  try {
    let buf = Buffer.alloc(4096)
    let { bytesRead } = await fh.read(buf, 0, buf.length, 0)
    const total = headerLength(buf.subarray(0, bytesRead))
    if (total > bytesRead) {
      buf = Buffer.alloc(total)
      ;({ bytesRead } = await fh.read(buf, 0, total, 0))
    }
    return decodeHeader(buf.subarray(0, bytesRead)).metadata
  } finally {
    await fh.close()
  }
}

/** The object expirer daemon. */
export class ObjectExpirer extends PeriodicDaemon<ObjectExpirerStats> {
  private readonly disk: ObjectDisk
  private readonly logger

  constructor(private readonly opts: ObjectExpirerOptions) {
    super('object-expirer', opts.logger)
    this.logger = opts.logger ?? silentLogger
    this.disk = opts.disk ?? createObjectDisk({ devicesRoot: opts.devicesRoot, logger: opts.logger })
  }

  protected async pass(signal: AbortSignal): Promise<ObjectExpirerStats> {
    const stats: ObjectExpirerStats = { objectsChecked: 0, expired: 0, deleted: 0, failures: 0 }
    const nowSec = (this.opts.now?.() ?? Date.now()) / 1000
    const rings: [number, Ring][] = [[0, this.opts.ring],
      ...Object.entries(this.opts.policyRings ?? {}).map(([k, r]) => [Number(k), r] as [number, Ring])]
    for (const [policy, ring] of rings) {
      for (const dev of localDevs(ring, this.opts.myNodes, this.opts.devices)) {
        if (!(await this.disk.devicePath(dev.device))) continue
        for (const partition of await this.disk.listPartitions(dev.device, policy)) {
          const part = Number(partition)
          if (part >= ring.partitionCount) continue
          const primaries = ring.getPartNodes(part)
          if (!primaries.some((d) => sameDevice(d, dev))) continue // a handoff copy: its primaries expire it
          const due: { loc: ObjectLocation; name: string; deleteAt: string }[] = []
          for (const suffix of await this.disk.listSuffixes(dev.device, policy, partition)) {
            for (const hash of await this.disk.listHashes(dev.device, policy, partition, suffix)) {
              checkStopped(signal)
              const loc = { device: dev.device, policy, partition, hash }
              try {
                const found = await this.expiry(loc)
                if (!found) continue
                stats.objectsChecked++
                if (found.deleteAt !== undefined && Number(found.deleteAt) <= nowSec && found.name) {
                  due.push({ loc, name: found.name, deleteAt: found.deleteAt })
                }
              } catch (err) {
                this.logger.warn({ err, device: dev.device, hash }, 'expirer could not read an object')
              }
            }
          }
          stats.expired += due.length
          await mapLimit(due, this.opts.concurrency ?? 8, async (d) => {
            checkStopped(signal)
            if (await this.deleteEverywhere(d.loc, d.name, d.deleteAt, primaries)) stats.deleted++
            else stats.failures++
          })
        }
      }
    }
    return stats
  }

  /** The object's name and X-Delete-At (a .meta's, when a POST wrote one), or null for no live object. */
  private async expiry(loc: ObjectLocation): Promise<{ name?: string; deleteAt?: string } | null> {
    const files = (await this.disk.listFiles(loc)).map(parseFilename)
    const data = files.find((f) => f?.ext === '.data')
    if (!data) return null
    // The newest .meta holds all user metadata of the latest POST, X-Delete-At included.
    const meta = files.find((f) => f?.ext === '.meta')
    const dir = join(this.opts.devicesRoot, loc.device, dataDirName(loc.policy), loc.partition, loc.hash.slice(-3), loc.hash)
    const md = await readHeader(join(dir, (meta ?? data).filename))
    return { name: md.name, deleteAt: md['X-Delete-At'] }
  }

  /** Container replicas whose update object replica `i` of `n` carries (Swift's proxy spreads them the same way). */
  private containerHeaders(name: string, i: number, n: number): Record<string, string> {
    const ring = this.opts.containerRing
    const m = /^\/([^/]+)\/([^/]+)\//.exec(name)
    if (!ring || !m) return {}
    const { partition, nodes } = ring.getNodes(this.opts.hashConfig, m[1], m[2])
    let mine = nodes.filter((_, j) => j % n === i)
    if (!mine.length && nodes.length) mine = [nodes[i % nodes.length]]
    return {
      'x-container-partition': String(partition),
      'x-container-host': mine.map(nodeKey).join(','),
      'x-container-device': mine.map((d) => d.device).join(','),
    }
  }

  /** DELETE with X-If-Delete-At on every primary; true when none of them failed. */
  private async deleteEverywhere(loc: ObjectLocation, name: string, deleteAt: string, primaries: Dev[]): Promise<boolean> {
    const ts = new Timestamp(Number(deleteAt))
    const results = await Promise.all(primaries.map(async (node, i) => {
      try {
        const r = await callBackend(this.opts.client(node, 'object'), {
          method: 'DELETE', path: objectPath(node.device, loc.partition, name),
          headers: {
            'x-timestamp': ts.internal, 'x-if-delete-at': deleteAt, 'x-backend-storage-policy-index': String(loc.policy),
            'user-agent': 'object-expirer', ...this.containerHeaders(name, i, primaries.length),
          },
        }, { timeoutMs: this.opts.timeoutMs ?? 10_000 })
        drainBody(r)
        // 404: not there (or already deleted); 409: a newer write; 412: its expiry changed. All final.
        if ([204, 404, 409, 412].includes(r.status)) return true
        this.logger.warn({ status: r.status, name, device: node.device }, 'expirer DELETE failed')
        return false
      } catch (err) {
        this.logger.warn({ err, name, device: node.device }, 'expirer DELETE failed')
        return false
      }
    }))
    return results.every(Boolean)
  }
}
