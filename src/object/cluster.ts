// A one-node cluster for `cumulo up`: the hash secret, the device directories and the three
// rings (account, container, object) are created on first start and reused afterwards, so the
// placement of data never changes between restarts.
import { existsSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { RingBuilder } from './ring/builder.ts'
import { type HashConfig, loadOrCreateHashConfig } from './ring/hash.ts'
import { loadBuilder, loadRing, saveBuilder, writeRing } from './ring/io.ts'
import type { Ring } from './ring/ring.ts'

/** The three ring kinds and the port each kind's server listens on (Swift's 6202/6201/6200). */
export type ServerKind = 'account' | 'container' | 'object'

/** Where a node's storage servers listen. */
export interface ServerPorts { account: number; container: number; object: number }

/** Swift's default storage server ports. */
export const DEFAULT_SERVER_PORTS: ServerPorts = { object: 6200, container: 6201, account: 6202 }

/** Options of a local cluster. */
export interface LocalClusterOptions {
  /** The object store's data directory (DATA_DIR/object). */
  root: string
  /** The address put in the rings for this node's servers. */
  host: string
  ports: ServerPorts
  /** Device directories under root/devices, one zone each. Default d1, d2, d3. */
  devices?: readonly string[]
  /** Partition power of new rings. Default 10 (1024 partitions). */
  partPower?: number
  /** Replicas of new rings. Default: 3, or fewer when there are fewer devices. */
  replicas?: number
}

/** What a node needs to place and store data. */
export interface LocalCluster {
  hashConfig: HashConfig
  /** root/devices: one directory per device (Swift's /srv/node). */
  devicesRoot: string
  devices: readonly string[]
  rings: Record<ServerKind, Ring>
}

/** Creates (first start) or loads the cluster's hash secret, devices and rings. */
export async function ensureLocalCluster(o: LocalClusterOptions): Promise<LocalCluster> {
  mkdirSync(o.root, { recursive: true, mode: 0o700 })
  const hashConfig = loadOrCreateHashConfig(o.root)
  const devicesRoot = join(o.root, 'devices')
  const devices = o.devices ?? ['d1', 'd2', 'd3']
  for (const d of devices) mkdirSync(join(devicesRoot, d), { recursive: true })
  const rings = {} as Record<ServerKind, Ring>
  for (const kind of ['account', 'container', 'object'] as const) {
    const ringPath = join(o.root, `${kind}.ring.json.gz`)
    if (!existsSync(ringPath)) await createRing(o, kind, devices, ringPath)
    rings[kind] = await loadRing(ringPath)
  }
  return { hashConfig, devicesRoot, devices, rings }
}

/** Builds a ring with one device per directory, each in its own zone, and writes it. */
async function createRing(o: LocalClusterOptions, kind: ServerKind, devices: readonly string[], ringPath: string): Promise<void> {
  const builderPath = join(o.root, `${kind}.builder.json`)
  let builder: RingBuilder
  if (existsSync(builderPath)) {
    builder = await loadBuilder(builderPath)
  } else {
    builder = RingBuilder.create(o.partPower ?? 10, Math.min(o.replicas ?? 3, devices.length), 1)
    devices.forEach((device, i) => {
      builder.addDev({ region: 1, zone: i + 1, ip: o.host, port: o.ports[kind], device, weight: 100 })
    })
  }
  if (!builder.everRebalanced) {
    builder.rebalance()
    await saveBuilder(builder, builderPath)
  }
  await writeRing(builder.getRingData(), ringPath)
}
