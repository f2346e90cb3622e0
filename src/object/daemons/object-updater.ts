// The object updater (Swift's obj/updater.py) as a daemon: each pass retries every
// async_pending record (container updates the object server could not deliver in time) through
// storage/async-pending.ts's runUpdaterOnce. A record is removed once every container replica
// accepted it (2xx); replicas that did accept are remembered in the record, so a retry only goes
// to the ones still owed. With the container ring the replicas are looked up again (as Swift
// does), so an update follows a container that moved since the write.
import type { Dev, Ring } from '../ring/ring.ts'
import { type UpdaterStats, runUpdaterOnce } from '../storage/async-pending.ts'
import type { BackendTarget } from '../storage/backend.ts'
import { type ContainerUpdater, backendContainerUpdater } from '../storage/container-update.ts'
import { type ObjectDisk, createObjectDisk } from '../storage/diskfile.ts'
import { type DaemonOptions, localDevs, nodeKey } from './common.ts'
import { PeriodicDaemon } from './daemon.ts'

export type { UpdaterStats } from '../storage/async-pending.ts'

/** Options of the object updater. */
export interface ObjectUpdaterOptions extends Pick<DaemonOptions, 'devicesRoot' | 'devices' | 'hashConfig' | 'client' | 'logger' | 'timeoutMs'> {
  /** The container ring: updates go to the container's current replicas. Without it, to those saved in the record. */
  containerRing?: Ring
  /** With `myNodes`: only this node's devices of the object ring. Default: every device under devicesRoot. */
  ring?: Ring
  myNodes?: ReadonlySet<string>
  /**
   * The object server's disk layer when both run in one process (required then: suffix-hash
   * invalidations are serialized per ObjectDisk instance). Built from devicesRoot otherwise.
   */
  disk?: ObjectDisk
  /** Sends one update (default: the backend protocol through `client`). */
  containerUpdate?: ContainerUpdater
}

/** A ring device standing for "ip:port" when the ring does not list it (client() only needs the address). */
function devForHost(host: string, device: string): Dev {
  const i = host.lastIndexOf(':')
  const ip = (i < 0 ? host : host.slice(0, i)).replace(/^\[|\]$/g, '')
  return { id: -1, region: 0, zone: 0, ip, port: i < 0 ? 80 : Number(host.slice(i + 1)), device, weight: 0, meta: '' }
}

/** The object updater daemon. */
export class ObjectUpdater extends PeriodicDaemon<UpdaterStats> {
  private readonly disk: ObjectDisk
  private readonly updater: ContainerUpdater

  constructor(private readonly opts: ObjectUpdaterOptions) {
    super('object-updater', opts.logger)
    const base = opts.disk ?? createObjectDisk({ devicesRoot: opts.devicesRoot, logger: opts.logger })
    this.disk = this.onlyLocal(base)
    const route = (host: string): BackendTarget => {
      const dev = opts.containerRing?.devs.find((d) => d !== null && nodeKey(d) === host)
      return opts.client(dev ?? devForHost(host, ''), 'container')
    }
    this.updater = opts.containerUpdate ?? backendContainerUpdater({ route, timeoutMs: opts.timeoutMs ?? 10_000 })
  }

  /** The disk as runUpdaterOnce sees it: only the devices this daemon is for. */
  private onlyLocal(disk: ObjectDisk): ObjectDisk {
    const { ring, myNodes, devices } = this.opts
    if (!devices && !(ring && myNodes)) return disk
    const allowed = async (): Promise<Set<string>> =>
      new Set(ring && myNodes ? localDevs(ring, myNodes, devices).map((d) => d.device) : devices)
    return new Proxy(disk, {
      get(target, prop) {
        if (prop === 'listDevices') return async () => { const ok = await allowed(); return (await target.listDevices()).filter((d) => ok.has(d)) }
        const v = Reflect.get(target, prop) as unknown
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v
      },
    })
  }

  protected async pass(): Promise<UpdaterStats> {
    const { containerRing, hashConfig } = this.opts
    return runUpdaterOnce({
      devicesRoot: this.opts.devicesRoot,
      disk: this.disk,
      containerUpdate: this.updater,
      logger: this.opts.logger,
      resolveTargets: containerRing
        ? async (account, container) => {
          const { partition, nodes } = containerRing.getNodes(hashConfig, account, container)
          return { partition: String(partition), targets: nodes.map((d) => ({ host: nodeKey(d), device: d.device, partition: String(partition) })) }
        }
        : undefined,
    })
  }
}
