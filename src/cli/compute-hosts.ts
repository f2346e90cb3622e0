import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { ComputeAgent, passwordTokenProvider } from '../compute/index.ts'
import type { VirtDriver } from '../compute/virt/driver.ts'
import { FakeDriver } from '../compute/virt/fake.ts'
import { QemuDriver } from '../compute/virt/qemu.ts'
import type { Logger } from '../core/log.ts'
import type { Identity } from '../identity/index.ts'
import { ensureServiceUser } from '../identity/index.ts'

// The compute agents of the all-in-one cloud: the same agent a compute host runs, in this
// process, talking to the control plane over HTTP on loopback (DESIGN.md: "In all-in-one mode
// the same agents run inside the one process"). One host with the qemu driver, or N simulated
// hosts with the fake driver (Tempest, benchmarks).

/** How the all-in-one cloud runs its compute hosts. */
export interface ComputeHostsOptions {
  dataDir: string
  identity: Identity
  /** Loopback URLs of the services the agents call. */
  identityUrl: string
  computeUrl: string
  imageUrl: string
  /** The address the hosts report (the all-in-one bind address). */
  hostIp: string
  driver?: 'qemu' | 'fake'
  fakeHosts?: number
  log: Logger
}

/** The running agents. */
export interface ComputeHosts {
  driver: 'qemu' | 'fake'
  agents: ComputeAgent[]
  /** Stops the agents; guests keep running (they are adopted at the next start). */
  stop(): Promise<void>
}

/** True when qemu-system-x86_64 and qemu-img are on PATH. */
export function qemuInstalled(): boolean {
  try {
    execFileSync('sh', ['-c', 'command -v qemu-system-x86_64 && command -v qemu-img'], { stdio: 'ignore' })
    return true
  } catch { return false }
}

/** The agents' own Keystone password, made at first start and kept in the data dir. */
function agentPassword(dataDir: string): string {
  const file = join(dataDir, 'keys', 'compute-agent')
  if (existsSync(file)) return readFileSync(file, 'utf8').trim()
  mkdirSync(join(dataDir, 'keys'), { recursive: true, mode: 0o700 })
  const pw = randomBytes(24).toString('base64url')
  writeFileSync(file, pw, { mode: 0o600 })
  return pw
}

/** Creates the host credential(s) and starts the agents; resolves once every host registered. */
export async function startComputeHosts(o: ComputeHostsOptions): Promise<ComputeHosts> {
  const driver = o.driver ?? (qemuInstalled() ? 'qemu' : 'fake')
  const host = hostname()
  const fakeCount = driver === 'fake' ? Math.max(1, o.fakeHosts ?? 1) : 1
  const names = fakeCount === 1 ? [host] : Array.from({ length: fakeCount }, (_, i) => `${host}-fake${String(i + 1).padStart(4, '0')}`)
  // A real host has a credential of its own; simulated hosts of one process share one.
  const userName = driver === 'fake' ? 'compute-fake' : `compute-${host}`
  const password = agentPassword(o.dataDir)
  await ensureServiceUser(o.identity.ctx, { name: userName, password, roles: ['admin', 'service'] })
  const token = passwordTokenProvider({ identityUrl: o.identityUrl, userName, password, projectName: 'service' })
  const root = join(o.dataDir, 'compute')
  const agents = names.map((name) => {
    const dir = fakeCount === 1 ? root : join(root, 'fake', name)
    const virt: VirtDriver = driver === 'qemu' ? new QemuDriver({ root: join(root, 'guests') }) : new FakeDriver()
    return new ComputeAgent({
      controlUrl: o.computeUrl, host: name, token, identityUrl: o.identityUrl, glanceUrl: o.imageUrl, dataDir: dir,
      driver: virt, hostIp: o.hostIp, log: o.log.child({ svc: 'compute-agent', host: name }),
      // Many simulated hosts: fewer heartbeats, so they don't dominate the process.
      ...(fakeCount > 50 ? { heartbeatMs: 30_000 } : {}),
    })
  })
  const started: ComputeAgent[] = []
  const stop = async () => { await Promise.all(started.map((a) => a.stop())) }
  try {
    for (let i = 0; i < agents.length; i += 50) {
      const batch = agents.slice(i, i + 50)
      await Promise.all(batch.map(async (a) => { await a.start(); started.push(a) }))
    }
  } catch (err) {
    await stop()
    throw err
  }
  return { driver, agents, stop }
}
