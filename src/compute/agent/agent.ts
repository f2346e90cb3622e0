import { execFile } from 'node:child_process'
import { mkdir } from 'node:fs/promises'
import { networkInterfaces } from 'node:os'
import { join } from 'node:path'
import { createLogger, type Logger } from '../../core/log.ts'
import { GlanceClient } from '../clients/glance.ts'
import type { VirtDriver } from '../virt/driver.ts'
import { ConsoleServer } from './console-server.ts'
import { ControlClient, type RegisterBody, type TokenProvider } from './control-client.ts'
import { ImageCache } from './image-cache.ts'
import { InstanceFiles } from './instance-files.ts'
import { MetadataServers } from './metadata-server.ts'
import { Reconciler } from './reconcile.ts'

// The compute agent: the process on each host that makes the hypervisor match the desired state
// the controller keeps (docs/compute.md). It registers the host and heartbeats every 10 s,
// long-polls its servers and reconciles every answer, serves each guest's metadata on a Unix
// socket and the console endpoint on its own HTTP port. Stopping it leaves the guests running:
// the next start adopts them (driver.init) and converges again.

/** Options of the compute agent. */
export interface ComputeAgentOptions {
  /** The compute API's base URL (e.g. http://127.0.0.1:8774), where /cumulo-agent/v1 lives. */
  controlUrl: string
  /** This host's name (the `host` of its servers). */
  host: string
  /** The agent's Keystone token (user compute-<host>, admin on `service`); renews on 401. */
  token: TokenProvider
  /** Keystone's URL (with or without /v3), to validate callers' tokens on the console endpoint. */
  identityUrl: string
  /** Glance's URL (without /v2), to download base images and upload snapshots. */
  glanceUrl: string
  /** Where the agent keeps its image cache, per-instance files and temporary files. */
  dataDir: string
  driver: VirtDriver
  /** The host's availability zone (default `nova`). */
  zone?: string
  /** Address and port of the console endpoint (default 127.0.0.1, port 0: any free port). */
  bind?: { host: string; port?: number }
  /** The host IP reported to the controller (default: the bind address, or the first external IPv4). */
  hostIp?: string
  /** The hypervisor version reported (default: QEMU's own `--version`, 1000 for other drivers). */
  hypervisorVersion?: number
  log?: Logger
  /** Heartbeat interval (default 10 s). */
  heartbeatMs?: number
  /** Long-poll wait in seconds (default 25; the controller caps it at 30). */
  watchWaitS?: number
  /** Servers reconciled at once (default 4). */
  concurrency?: number
}

/** The compute agent of one host. */
export class ComputeAgent {
  readonly log: Logger
  readonly client: ControlClient
  readonly images: ImageCache
  readonly reconciler: Reconciler
  readonly console: ConsoleServer
  readonly #metadata: MetadataServers
  #abort = new AbortController()
  #heartbeat?: NodeJS.Timeout
  #watchLoop?: Promise<void>
  #register?: RegisterBody
  #revision = 0
  #watchedOnce = false
  #watchWaiters: Array<() => void> = []

  constructor(private readonly o: ComputeAgentOptions) {
    this.log = o.log ?? createLogger({ name: `compute-agent-${o.host}` })
    this.client = new ControlClient(o.controlUrl, o.host, o.token)
    const glance = new GlanceClient(o.glanceUrl.replace(/\/+$/, '').replace(/\/v2$/, ''))
    this.images = new ImageCache(join(o.dataDir, 'images'), glance, o.token)
    this.#metadata = new MetadataServers(this.log)
    this.reconciler = new Reconciler({
      host: o.host, driver: o.driver, client: this.client, images: this.images, glance, token: o.token,
      files: new InstanceFiles(join(o.dataDir, 'instances')), metadata: this.#metadata,
      tmpDir: join(o.dataDir, 'tmp'), zone: o.zone ?? 'nova', log: this.log, concurrency: o.concurrency,
    })
    this.console = new ConsoleServer({
      driver: o.driver, identityUrl: o.identityUrl, token: o.token, log: this.log,
      projectOf: (uuid) => this.reconciler.instance(uuid)?.project_id,
    })
  }

  /** The console endpoint's base URL (registered as `agent_url`). */
  get agentUrl(): string { return this.console.url }
  /** The last revision the watch saw. */
  get revision(): number { return this.#revision }

  /**
   * Adopts existing guests, opens the console endpoint, registers the host (retrying until the
   * controller answers), then heartbeats and watches in the background.
   */
  async start(): Promise<void> {
    this.#abort = new AbortController()
    await mkdir(this.o.dataDir, { recursive: true })
    await this.o.driver.init()
    await this.console.listen(this.o.bind?.host ?? '127.0.0.1', this.o.bind?.port ?? 0)
    const res = await this.o.driver.hostResources()
    this.#register = {
      hypervisor_type: this.o.driver.kind === 'qemu' ? 'QEMU' : this.o.driver.kind,
      hypervisor_version: this.o.hypervisorVersion ?? await hypervisorVersion(this.o.driver.kind),
      vcpus: res.vcpus, memory_mb: res.memoryMb, local_gb: res.diskGb,
      host_ip: this.o.hostIp ?? hostIp(this.o.bind?.host), agent_url: this.console.url,
      ...(this.o.zone ? { zone: this.o.zone } : {}),
    }
    for (let delay = 500; ; delay = Math.min(delay * 2, 10_000)) {
      try {
        await this.client.register(this.#register, this.#abort.signal)
        break
      } catch (e) {
        if (this.#abort.signal.aborted) return
        this.log.warn({ err: e }, 'registering with the controller failed; retrying')
        await sleep(delay, this.#abort.signal)
      }
    }
    this.#heartbeat = setInterval(() => { void this.#beat() }, this.o.heartbeatMs ?? 10_000)
    this.#watchLoop = this.#watch()
  }

  /** Stops the loops and servers. Guests keep running (an agent restart must not touch them). */
  async stop(): Promise<void> {
    this.#abort.abort()
    clearInterval(this.#heartbeat)
    await this.#watchLoop
    await this.reconciler.stop()
    await this.#metadata.stopAll()
    await this.console.close()
  }

  /**
   * Resolves after the next watch answer has been fully reconciled (tests and tooling: "the
   * agent has seen and acted on everything up to now").
   */
  settled(): Promise<void> {
    return new Promise((r) => this.#watchWaiters.push(r))
  }

  async #beat(): Promise<void> {
    try {
      if (this.#register) await this.client.register(this.#register, this.#abort.signal)
    } catch (e) {
      if (!this.#abort.signal.aborted) this.log.warn({ err: e }, 'heartbeat failed')
    }
  }

  async #watch(): Promise<void> {
    const signal = this.#abort.signal
    let delay = 500
    while (!signal.aborted) {
      try {
        const waitS = this.o.watchWaitS ?? 25
        // The first call asks for the whole list at once (since=0 would wait on a host never changed).
        const a = await this.client.watch(this.#watchedOnce ? this.#revision : undefined, waitS, signal)
        // Not waiting for the work: a long op on one server (a snapshot upload) must not hold
        // back the others; a newer answer replaces a server's queued view. The revision moves
        // only once the answer is taken, so a failure here is retried with the same cursor.
        await this.reconciler.apply(a.instances)
        this.#revision = a.revision
        this.#watchedOnce = true
        delay = 500
        const w = this.#watchWaiters
        this.#watchWaiters = []
        if (w.length) void this.reconciler.idle().then(() => { for (const r of w) r() })
      } catch (e) {
        if (signal.aborted) break
        this.log.warn({ err: e }, 'watch failed; retrying')
        await sleep(delay, signal)
        delay = Math.min(delay * 2, 10_000)
      }
    }
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms)
    function done() { clearTimeout(t); signal.removeEventListener('abort', done); resolve() }
    signal.addEventListener('abort', done, { once: true })
  })
}

/** The IP the controller should know the host by. */
function hostIp(bind?: string): string {
  if (bind && bind !== '0.0.0.0' && bind !== '::') return bind
  for (const addrs of Object.values(networkInterfaces())) {
    for (const a of addrs ?? []) if (a.family === 'IPv4' && !a.internal) return a.address
  }
  return '127.0.0.1'
}

/** Nova's integer hypervisor version (8.2.1 → 8002001): QEMU's own, or 1000 for other drivers. */
async function hypervisorVersion(kind: string): Promise<number> {
  if (kind !== 'qemu') return 1000
  const out = await new Promise<string>((resolve) => {
    execFile('qemu-system-x86_64', ['--version'], { timeout: 5000 }, (err, stdout) => resolve(err ? '' : stdout))
  })
  const m = /version (\d+)\.(\d+)\.(\d+)/.exec(out)
  return m ? Number(m[1]) * 1_000_000 + Number(m[2]) * 1000 + Number(m[3]) : 1000
}
