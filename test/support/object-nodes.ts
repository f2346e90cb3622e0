// A multi-node object store for fault tests: each storage node is a child process
// (object-node-main.ts) holding one device on its own loopback address (127.0.0.1, .2, .3 …, the
// same ports), so a node can be SIGKILLed while the proxy (in this process, see
// startObjectCloud's `dataDir`/`host`) keeps serving from the others. The hash secret and the
// three rings are written here first and shared by every node through the common data dir.
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import type { DaemonName } from '../../src/object/daemons/index.ts'
import { RingBuilder } from '../../src/object/ring/builder.ts'
import { loadOrCreateHashConfig } from '../../src/object/ring/hash.ts'
import { writeRing } from '../../src/object/ring/io.ts'
import type { NodeCommand, NodeReply } from './object-node-main.ts'

const ROOT = resolve(import.meta.dirname, '..', '..')
const MAIN = join(import.meta.dirname, 'object-node-main.ts')

/** One storage node process. */
export interface StorageNode {
  host: string
  device: string
  readonly child: ChildProcess
  /** True while the process runs. */
  readonly alive: boolean
  /** Kills the process with `signal` (default SIGKILL) and waits for it to exit. */
  kill(signal?: NodeJS.Signals): Promise<void>
  /** Starts the process again on the same devices. */
  start(): Promise<void>
  /** Runs these daemons' passes, one after another, in the node; resolves with their counts. */
  run(daemons: DaemonName[]): Promise<Record<string, any>>
  output(): string
}

/** The cluster: the shared data dir and the nodes. */
export interface NodeCluster {
  /** DATA_DIR/object of every node (and of the proxy): hash.json, rings, devices/. */
  root: string
  ports: { object: number; container: number; account: number }
  nodes: StorageNode[]
  /** Runs the daemons on every live node, nodes one after another. */
  runAll(daemons: DaemonName[]): Promise<Record<string, any>[]>
  /** Kills every node and removes the data dir. */
  destroy(): Promise<void>
}

/** Options of the cluster. */
export interface NodeClusterOptions {
  /** Nodes (one device each, its own zone). Default 3. */
  nodes?: number
  replicas?: number
  partPower?: number
  /** Object server port; container and account servers use the next two. */
  basePort: number
}

/** Writes the rings and starts every node. */
export async function startNodeCluster(o: NodeClusterOptions): Promise<NodeCluster> {
  const root = mkdtempSync(join(tmpdir(), 'cumulo-nodes-'))
  const ports = { object: o.basePort, container: o.basePort + 1, account: o.basePort + 2 }
  const n = o.nodes ?? 3
  const specs = Array.from({ length: n }, (_, i) => ({ host: `127.0.0.${i + 1}`, device: `d${i + 1}` }))
  loadOrCreateHashConfig(root)
  for (const kind of ['object', 'container', 'account'] as const) {
    const b = RingBuilder.create(o.partPower ?? 4, Math.min(o.replicas ?? 3, n), 0)
    specs.forEach((s, i) => b.addDev({ region: 1, zone: i + 1, ip: s.host, port: ports[kind], device: s.device, weight: 100 }))
    b.rebalance({ seed: 1 })
    await writeRing(b.getRingData(), join(root, `${kind}.ring.json.gz`))
  }
  for (const s of specs) mkdirSync(join(root, 'devices', s.device), { recursive: true })
  const nodes = specs.map((s) => storageNode(root, s.host, s.device, ports))
  try {
    await Promise.all(nodes.map((x) => x.start()))
  } catch (err) {
    await Promise.all(nodes.map((x) => x.kill()))
    rmSync(root, { recursive: true, force: true })
    throw err
  }
  return {
    root, ports, nodes,
    async runAll(daemons) {
      const out: Record<string, any>[] = []
      for (const x of nodes) if (x.alive) out.push(await x.run(daemons))
      return out
    },
    async destroy() {
      await Promise.all(nodes.map((x) => x.kill()))
      rmSync(root, { recursive: true, force: true })
    },
  }
}

function storageNode(root: string, host: string, device: string, ports: NodeCluster['ports']): StorageNode {
  let child: ChildProcess | undefined
  let out = ''
  let nextId = 1
  const waiting = new Map<number, { resolve: (v: Record<string, any>) => void; reject: (e: Error) => void }>()
  const alive = () => !!child && child.exitCode === null && child.signalCode === null
  const node: StorageNode = {
    host, device,
    get child() { return child! },
    get alive() { return alive() },
    output: () => out,
    async start() {
      if (alive()) return
      const c = spawn(process.execPath, ['--import', 'tsx', MAIN, '--root', root, '--host', host, '--devices', device,
        '--ports', `${ports.object},${ports.container},${ports.account}`], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe', 'ipc'] })
      child = c
      c.stdout!.on('data', (d) => { out += d })
      c.stderr!.on('data', (d) => { out += d })
      c.on('exit', () => {
        for (const w of waiting.values()) w.reject(new Error(`node ${host} exited:\n${out}`))
        waiting.clear()
      })
      c.on('message', (m: NodeReply | { ready: true }) => {
        if ('ready' in m) return
        const w = waiting.get(m.id)
        waiting.delete(m.id)
        if (m.error) w?.reject(new Error(`node ${host}: ${m.error}`))
        else w?.resolve(m.stats!)
      })
      await new Promise<void>((resolveReady, reject) => {
        const timer = setTimeout(() => { c.kill('SIGKILL'); reject(new Error(`node ${host} did not start in 30 s:\n${out}`)) }, 30_000)
        c.on('message', (m: { ready?: boolean }) => { if (m.ready) { clearTimeout(timer); resolveReady() } })
        c.once('exit', (code, sig) => { clearTimeout(timer); reject(new Error(`node ${host} exited (${code ?? sig}) while starting:\n${out}`)) })
      })
    },
    async kill(signal = 'SIGKILL') {
      const c = child
      if (!c || !alive()) return
      const gone = new Promise<void>((r) => c.once('exit', () => r()))
      c.kill(signal)
      await gone
    },
    run(daemons) {
      const c = child
      if (!c || !alive()) return Promise.reject(new Error(`node ${host} is not running`))
      const id = nextId++
      return new Promise((resolveRun, reject) => {
        waiting.set(id, { resolve: resolveRun, reject })
        c.send({ id, run: daemons } satisfies NodeCommand)
      })
    },
  }
  return node
}
