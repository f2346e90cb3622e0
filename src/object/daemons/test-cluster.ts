// A small cluster for the daemon tests: storage nodes in this process, each with real object,
// container and account servers on its own temp devices, also served over HTTP on loopback
// (so a node reaches its own devices in-process and the other nodes' over HTTP, as deployed),
// and object/container/account rings built with the real RingBuilder.
import http from 'node:http'
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { RingBuilder } from '../ring/builder.ts'
import { hashPath } from '../ring/hash.ts'
import type { Dev, Ring } from '../ring/ring.ts'
import { createAccountServer, type AccountServer } from '../storage/account-server.ts'
import { type BackendHandler, type BackendServer, type BackendTarget, callBackend, serveBackend } from '../storage/backend.ts'
import { createContainerServer, type ContainerServer } from '../storage/container-server.ts'
import { decodeHeader } from '../storage/datafile.ts'
import { type ObjectDisk, createObjectDisk } from '../storage/diskfile.ts'
import { createObjectServer } from '../storage/object-server.ts'
import { HASH_CFG, call } from '../storage/object-test-kit.ts'
import { type NodeClient, nodeKey, silentLogger } from './common.ts'

export { HASH_CFG }

/** One storage node of the test cluster. */
export interface TestNode {
  root: string
  devices: string[]
  object: BackendHandler
  container: ContainerServer
  account: AccountServer
  /** The disk layer its object server uses (daemons must share it: one suffix-hash cache and lock). */
  disk: ObjectDisk
  /** "ip:port" of its object, container and account servers. */
  myNodes: Set<string>
  /** In-process for this node's servers, HTTP for the others'. */
  client: NodeClient
  /** Routes "ip:port" as `client` does. */
  route: (host: string) => BackendTarget
  servers: BackendServer[]
}

/** The test cluster. */
export interface TestCluster {
  nodes: TestNode[]
  objectRing: Ring
  containerRing: Ring
  accountRing: Ring
  /** The node holding a device. */
  nodeOf(device: string): TestNode
  close(): Promise<void>
}

const quiet = silentLogger

/**
 * Starts one node per entry of `layout` (device names per node; every device gets its own zone)
 * and builds the three rings with `replicas` (default 3) and 2^partPower partitions (default 4).
 */
export async function startCluster(layout: string[][], opts: { replicas?: number; partPower?: number } = {}): Promise<TestCluster> {
  const routes = new Map<string, { node: number; handler: BackendHandler; remote: BackendHandler }>()
  const nodes: TestNode[] = []
  for (let n = 0; n < layout.length; n++) {
    const root = mkdtempSync(join(tmpdir(), `cumulo-daemons-${n}-`))
    for (const d of layout[n]) mkdirSync(join(root, d))
    const route = (host: string): BackendTarget => {
      const r = routes.get(host)
      if (!r) return `http://${host}`
      return r.node === n ? r.handler : r.remote
    }
    const hp = (a: string, c?: string) => hashPath(HASH_CFG, a, c)
    const disk = createObjectDisk({ devicesRoot: root, logger: quiet })
    const object = createObjectServer({ devicesRoot: root, hashConfig: HASH_CFG, containerRoute: route, logger: quiet, disk })
    const container = createContainerServer({ devices: root, hashPath: hp, logger: quiet,
      accountUpdate: (host, req) => callBackend(route(host), req) })
    const account = createAccountServer({ devices: root, hashPath: hp, logger: quiet })
    const servers = await Promise.all([object, container, account].map((h) => serveBackend(h, { host: '127.0.0.1', port: 0, logger: quiet })))
    const handlers = [object, container, account]
    servers.forEach((s, i) => routes.set(`127.0.0.1:${s.port}`, { node: n, handler: handlers[i], remote: ((req) => callBackend(s.url, req)) as BackendHandler }))
    nodes.push({
      root, devices: layout[n], disk, object, container, account, servers, route,
      myNodes: new Set(servers.map((s) => `127.0.0.1:${s.port}`)),
      client: (dev: Dev) => route(nodeKey(dev)),
    })
  }
  const ring = (server: number): Ring => {
    const all = layout.flat()
    const b = RingBuilder.create(opts.partPower ?? 4, Math.min(opts.replicas ?? 3, all.length), 0)
    let zone = 0
    nodes.forEach((node, n) => {
      for (const device of layout[n]) {
        b.addDev({ region: 1, zone: ++zone, ip: '127.0.0.1', port: node.servers[server].port, device, weight: 100 })
      }
    })
    b.rebalance({ seed: 7 })
    return b.getRing()
  }
  return {
    nodes,
    objectRing: ring(0),
    containerRing: ring(1),
    accountRing: ring(2),
    nodeOf(device) {
      const node = nodes.find((x) => x.devices.includes(device))
      if (!node) throw new Error(`no node has ${device}`)
      return node
    },
    async close() {
      for (const node of nodes) {
        for (const s of node.servers) await s.close()
        node.container.close()
        node.account.close()
        rmSync(node.root, { recursive: true, force: true })
      }
    },
  }
}

/** The .data/.ts/.meta file names of an object on one device (empty when it has none). */
export function objectFiles(cluster: TestCluster, device: string, partition: number, hash: string): string[] {
  const dir = join(cluster.nodeOf(device).root, device, 'objects', String(partition), hash.slice(-3), hash)
  try { return readdirSync(dir).sort() } catch { return [] }
}

/** Path of an object's file on a device. */
export function objectFilePath(cluster: TestCluster, device: string, partition: number, hash: string, file: string): string {
  return join(cluster.nodeOf(device).root, device, 'objects', String(partition), hash.slice(-3), hash, file)
}

/** The stored metadata of an object file. */
export function fileMetadata(path: string): Record<string, string> {
  return decodeHeader(readFileSync(path)).metadata
}

/** GET of an object straight from one device's object server. */
export async function getFrom(cluster: TestCluster, device: string, partition: number, name: string, headers: Record<string, string> = {}) {
  const node = cluster.nodeOf(device)
  return call(node.object, { method: 'GET', path: `/${device}/${partition}${name}`, headers })
}
