// The qemu virt driver: one qemu-system-x86_64 per instance, daemonized so guests outlive the
// agent, each in its own directory (overlay disk, pid file, QMP and console sockets, console
// log). The directory and the pid file are the only state: a restarted agent adopts them.
// Longer-lived states are files too: suspend.state (saved memory) means suspended, and
// spec.pre-resize.json + disk.pre-resize.qcow2 mean a resize awaits confirmation.
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, open, readFile, readdir, rename, rm, statfs, writeFile } from 'node:fs/promises'
import { cpus, totalmem } from 'node:os'
import { dirname, resolve } from 'node:path'
import { promisify } from 'node:util'
import { badRequest, conflict } from '../../core/errors.ts'
import {
  instanceNotFound, invalidState, USER_NET_GUEST_IP,
  type FlavorSpec, type HostResources, type ImageRef, type InstanceInfo, type InstanceSpec,
  type NicAddress, type PowerStateName, type VirtDriver,
} from './driver.ts'
import { instancePaths, qemuArgs, type InstancePaths } from './qemu-cmdline.ts'
import {
  convertFlat, createOverlay, growImage, imageVirtualSize, isOurQemu, probeAccel, readPid, signal, waitGone,
} from './qemu-host.ts'
import { QmpClient } from './qmp.ts'
import { dropKept, keepForRevert, loadMemory, preResizeSpec, restoreKept, saveMemory, writeSpec } from './qemu-state.ts'

const run = promisify(execFile)
const GiB = 1024 ** 3
// Instance ids name directories under the root, so nothing that could climb out of it.
const VALID_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/

/** Configuration of the qemu driver. */
export interface QemuDriverOptions {
  /** Directory holding one subdirectory per instance. */
  root: string
  binary?: string
  qemuImg?: string
  /** 'auto' probes KVM briefly and falls back to TCG. */
  accel?: 'auto' | 'kvm' | 'tcg'
  /** Overrides of the host size reported to placement (default: what the host has). */
  host?: Partial<HostResources>
  /** How long powerOff waits for an ACPI shutdown before a hard stop. */
  powerOffTimeoutMs?: number
  /** How long saving or loading a suspended guest's memory may take. */
  migrateTimeoutMs?: number
}

/** QMP `query-status` run states, mapped to Nova power states. */
const RUN_STATE: Record<string, PowerStateName> = {
  running: 'running', paused: 'paused', suspended: 'suspended', shutdown: 'shutdown',
  'guest-panicked': 'crashed', 'internal-error': 'crashed', 'io-error': 'paused',
  debug: 'paused', prelaunch: 'nostate', inmigrate: 'nostate', postmigrate: 'paused',
  'finish-migrate': 'paused', 'restore-vm': 'paused', 'save-vm': 'paused', watchdog: 'crashed',
}

/** A VirtDriver running each instance as a daemonized qemu process. */
export class QemuDriver implements VirtDriver {
  readonly kind = 'qemu'
  readonly #o: Required<Omit<QemuDriverOptions, 'host'>> & { host: Partial<HostResources> }
  readonly #specs = new Map<string, InstanceSpec>()
  // One operation at a time per instance: QMP serves one client, and power changes must not race.
  readonly #locks = new Map<string, Promise<unknown>>()
  #accel: Promise<'kvm' | 'tcg'> | undefined

  constructor(opts: QemuDriverOptions) {
    this.#o = {
      binary: 'qemu-system-x86_64', qemuImg: 'qemu-img', accel: 'auto', host: {},
      powerOffTimeoutMs: 60_000, migrateTimeoutMs: 300_000, ...opts, root: resolve(opts.root),
    }
  }

  async init(): Promise<void> {
    await mkdir(this.#o.root, { recursive: true })
    for (const id of await readdir(this.#o.root)) {
      try {
        const spec = JSON.parse(await readFile(instancePaths(this.#o.root, id).spec, 'utf8')) as InstanceSpec
        if (spec.id !== id) continue
        this.#specs.set(id, spec)
        await this.#locked(id, () => this.#settleSuspend(id))
      } catch { /* not an instance directory, or one whose spawn never finished */ }
    }
  }

  /**
   * A previous agent may have died between the steps of suspend or resume: a saved state next
   * to a live qemu. A guest that runs has been resumed (the file is stale); any other qemu is
   * the one that saved the state and only still has to quit.
   */
  async #settleSuspend(id: string): Promise<void> {
    const p = this.#paths(id)
    await rm(`${p.suspendState}.part`, { force: true })
    if (!existsSync(p.suspendState)) return
    const pid = await readPid(p.pid)
    if (pid === undefined || !await isOurQemu(pid, p.pid)) return
    const st = await this.#qmp(id, (q) => q.execute<{ status: string }>('query-status')).catch(() => undefined)
    if (st?.status === 'running') await rm(p.suspendState, { force: true })
    else await this.#kill(p)
  }

  async hostResources(): Promise<HostResources> {
    const fs = await statfs(this.#o.root).catch(() => undefined)
    return {
      vcpus: cpus().length,
      memoryMb: Math.floor(totalmem() / 1024 / 1024),
      diskGb: fs ? Math.floor((fs.blocks * fs.bsize) / GiB) : 0,
      ...this.#o.host,
    }
  }

  async list(): Promise<InstanceInfo[]> {
    const out: InstanceInfo[] = []
    for (const [id, spec] of this.#specs) {
      const state = await this.getState(id).catch(() => undefined)
      if (!state) continue
      const old = await preResizeSpec(this.#paths(id))
      out.push({ id, state, ...spec.flavor, ...(old ? { oldFlavor: old.flavor } : {}) })
    }
    return out
  }

  spawn(spec: InstanceSpec): Promise<void> {
    return this.#locked(spec.id, async () => {
      if (!VALID_ID.test(spec.id)) throw badRequest(`Invalid instance id ${spec.id}.`)
      if (this.#specs.has(spec.id)) throw conflict(`Instance ${spec.id} already exists on this host.`)
      if (spec.nics.some((n) => n.tap && n.user)) throw badRequest('A NIC is either a tap or user-mode, not both.')
      spec = structuredClone(spec)
      for (const n of spec.nics) if (n.user) n.user.metadataSocket = resolve(n.user.metadataSocket)
      const p = this.#paths(spec.id)
      await mkdir(p.dir, { recursive: true })
      try {
        await createOverlay(this.#o.qemuImg, {
          base: resolve(spec.image.path), baseFormat: spec.image.format, overlay: p.disk,
          sizeBytes: spec.flavor.diskGb * GiB,
        })
        if (spec.userData !== undefined) await writeFile(p.userData, spec.userData)
        // Written last: a directory with spec.json is an instance to adopt after a restart.
        await writeFile(p.spec, JSON.stringify(spec))
        this.#specs.set(spec.id, spec)
        await this.#launch(spec, p)
      } catch (e) {
        this.#specs.delete(spec.id)
        await this.#kill(p)
        await rm(p.dir, { recursive: true, force: true })
        throw e
      }
    })
  }

  destroy(id: string): Promise<void> {
    if (!VALID_ID.test(id)) return Promise.resolve()  // never a path outside the root
    return this.#locked(id, async () => {
      const p = this.#paths(id)
      await this.#kill(p)
      await rm(p.dir, { recursive: true, force: true })
      this.#specs.delete(id)
    })
  }

  powerOff(id: string, opts: { timeoutMs?: number } = {}): Promise<void> {
    return this.#locked(id, () => this.#powerOff(id, opts.timeoutMs ?? this.#o.powerOffTimeoutMs))
  }

  powerOn(id: string): Promise<void> {
    return this.#locked(id, async () => {
      const state = await this.#state(id)
      if (state === 'running') return
      if (state === 'paused' || state === 'suspended') throw invalidState(id, 'power on', state)
      await this.#kill(this.#paths(id))  // a crashed qemu may still be there
      await this.#launch(this.#spec(id), this.#paths(id))
    })
  }

  reboot(id: string, kind: 'soft' | 'hard'): Promise<void> {
    return this.#locked(id, async () => {
      const state = await this.#state(id)
      if (kind === 'soft') {
        // As Nova's libvirt driver: a clean shutdown, then a fresh start.
        if (state !== 'running') throw invalidState(id, 'reboot', state)
        await this.#powerOff(id, this.#o.powerOffTimeoutMs)
      } else if (state !== 'shutdown') {
        // From any state, suspended too (as Nova's libvirt driver, which drops the saved state).
        await this.#kill(this.#paths(id))
        await rm(this.#paths(id).suspendState, { force: true })
      }
      await this.#launch(this.#spec(id), this.#paths(id))
    })
  }

  pause(id: string): Promise<void> {
    return this.#locked(id, async () => {
      const state = await this.#state(id)
      if (state === 'paused') return
      if (state !== 'running') throw invalidState(id, 'pause', state)
      await this.#qmp(id, (q) => q.execute('stop'))
    })
  }

  unpause(id: string): Promise<void> {
    return this.#locked(id, async () => {
      const state = await this.#state(id)
      if (state === 'running') return
      if (state !== 'paused') throw invalidState(id, 'unpause', state)
      await this.#qmp(id, (q) => q.execute('cont'))
    })
  }

  getState(id: string): Promise<PowerStateName> {
    return this.#locked(id, () => this.#state(id))
  }

  async consoleOutput(id: string, tailBytes = 65536): Promise<string> {
    const spec = this.#spec(id)
    const f = await open(spec.consoleLog ?? this.#paths(id).console, 'r').catch(() => undefined)
    if (!f) return ''
    try {
      const { size } = await f.stat()
      const n = Math.min(size, tailBytes)
      const buf = Buffer.alloc(n)
      await f.read(buf, 0, n, size - n)
      return buf.toString('utf8')
    } finally {
      await f.close()
    }
  }

  async addresses(id: string): Promise<NicAddress[]> {
    // Slirp's DHCP hands out dhcpstart first, and each user NIC has a slirp of its own.
    return this.#spec(id).nics.filter((n) => n.user && !n.tap).map((n) => ({ mac: n.mac, ip: USER_NET_GUEST_IP }))
  }

  snapshot(id: string, destPath: string): Promise<void> {
    return this.#locked(id, async () => {
      const state = await this.#state(id)
      const p = this.#paths(id)
      const dest = resolve(destPath)
      const tmp = `${dest}.part`
      await mkdir(dirname(dest), { recursive: true })
      // `stop` drains and flushes the guest's disk I/O: the overlay on disk is then consistent.
      const pausedHere = state === 'running'
      if (pausedHere) await this.#qmp(id, (q) => q.execute('stop'))
      try {
        await convertFlat(this.#o.qemuImg, p.disk, tmp)
        await rename(tmp, dest)
      } catch (e) {
        await rm(tmp, { force: true })
        throw e
      } finally {
        if (pausedHere) await this.#qmp(id, (q) => q.execute('cont'))
      }
    })
  }

  suspend(id: string): Promise<void> {
    return this.#locked(id, async () => {
      const state = await this.#state(id)
      if (state === 'suspended') return
      if (state !== 'running') throw invalidState(id, 'suspend', state)
      const p = this.#paths(id)
      // The memory really goes to disk (QEMU migration to a file), then the process ends.
      await this.#qmp(id, (q) => saveMemory(q, p, this.#o.migrateTimeoutMs)).catch((e: Error) => {
        throw new Error(`suspend of instance ${id} failed: ${e.message}`, { cause: e })
      })
      await this.#kill(p)
    })
  }

  resume(id: string): Promise<void> {
    return this.#locked(id, async () => {
      const state = await this.#state(id)
      if (state === 'running') return
      if (state !== 'suspended') throw invalidState(id, 'resume', state)
      const p = this.#paths(id)
      await this.#launch(this.#spec(id), p, p.suspendState)
      try {
        await this.#qmp(id, (q) => loadMemory(q, this.#o.migrateTimeoutMs))
      } catch (e) {
        // The saved state stays: the instance is still suspended, and a retry may work.
        await this.#kill(p)
        throw new Error(`resume of instance ${id} failed: ${(e as Error).message}`, { cause: e })
      }
      await rm(p.suspendState, { force: true })
    })
  }

  rebuild(id: string, image: ImageRef): Promise<void> {
    return this.#locked(id, async () => {
      const state = await this.#state(id)
      if (state === 'paused' || state === 'suspended') throw invalidState(id, 'rebuild', state)
      const p = this.#paths(id)
      if (await preResizeSpec(p)) throw resizePending(id)
      const spec: InstanceSpec = { ...this.#spec(id), image: structuredClone(image) }
      spec.image.path = resolve(spec.image.path)
      await this.#stop(id, state)
      // The new overlay is made beside the old one and renamed over it: never no disk at all.
      const fresh = `${p.disk}.new`
      await createOverlay(this.#o.qemuImg, {
        base: spec.image.path, baseFormat: spec.image.format, overlay: fresh, sizeBytes: spec.flavor.diskGb * GiB,
      }).catch(async (e) => { await rm(fresh, { force: true }); throw e })
      await rename(fresh, p.disk)
      await this.#saveSpec(spec)
      if (state === 'running') await this.#launch(spec, p)
    })
  }

  resize(id: string, flavor: FlavorSpec): Promise<void> {
    return this.#locked(id, async () => {
      const spec = this.#spec(id)
      const p = this.#paths(id)
      const kept = await preResizeSpec(p)
      if (kept && sameFlavor(spec.flavor, flavor)) return  // a retry of the resize just done
      // Kept files next to an unchanged spec: an earlier resize stopped half-way; finish this one.
      if (kept && !sameFlavor(kept.flavor, spec.flavor)) throw resizePending(id)
      const state = await this.#state(id)
      if (state === 'paused' || state === 'suspended') throw invalidState(id, 'resize', state)
      if (flavor.diskGb < spec.flavor.diskGb) {
        throw conflict(`Cannot resize instance ${id} to a smaller root disk (${flavor.diskGb} GB < ${spec.flavor.diskGb} GB).`)
      }
      await this.#stop(id, state)
      if (!kept) await keepForRevert(p, spec)
      const size = flavor.diskGb * GiB
      if (size > await imageVirtualSize(this.#o.qemuImg, p.disk, 'qcow2')) await growImage(this.#o.qemuImg, p.disk, size)
      const next = { ...spec, flavor: { ...flavor } }
      await this.#saveSpec(next)
      if (state === 'running') await this.#launch(next, p)
    })
  }

  confirmResize(id: string): Promise<void> {
    return this.#locked(id, async () => {
      this.#spec(id)
      await dropKept(this.#paths(id))
    })
  }

  revertResize(id: string): Promise<void> {
    return this.#locked(id, async () => {
      this.#spec(id)
      const p = this.#paths(id)
      const old = await preResizeSpec(p)
      if (!old) return
      const state = await this.#state(id)
      // A revert brings back the disk the guest had before: whatever runs now is discarded.
      await this.#stop(id, state)
      await rm(p.suspendState, { force: true })
      await restoreKept(p, old)
      this.#specs.set(id, old)
      if (state === 'running' || state === 'paused') await this.#launch(old, p)
    })
  }

  /** Brings the guest down for a disk change: a clean shutdown when it runs, else at once. */
  async #stop(id: string, state: PowerStateName): Promise<void> {
    if (state === 'running') await this.#powerOff(id, this.#o.powerOffTimeoutMs)
    else await this.#kill(this.#paths(id))
  }

  /** Records the instance's new spec, on disk for a restarted agent and in memory. */
  async #saveSpec(spec: InstanceSpec): Promise<void> {
    await writeSpec(this.#paths(spec.id), spec)
    this.#specs.set(spec.id, spec)
  }

  async #powerOff(id: string, timeoutMs: number): Promise<void> {
    const p = this.#paths(id)
    const state = await this.#state(id)
    if (state === 'shutdown') return
    // A suspended guest has no process to press the button of: stopping drops its saved memory.
    if (state === 'suspended') return await rm(p.suspendState, { force: true })
    if (state === 'running') {
      // ACPI power button; qemu exits (closing QMP) once the guest has powered off.
      const q = await QmpClient.connect(p.qmp)
      try {
        await q.execute('system_powerdown')
        if (await q.waitClosed(timeoutMs)) {
          const pid = await readPid(p.pid)
          if (pid === undefined || await waitGone(pid, p.pid, 10_000)) return await this.#cleanRuntime(p)
        }
      } finally {
        q.close()
      }
    }
    // Paused guests cannot hear ACPI, and others had their chance: a hard stop.
    await this.#kill(p)
  }

  async #launch(spec: InstanceSpec, p: InstancePaths, incoming?: string): Promise<void> {
    await this.#cleanRuntime(p)
    const args = qemuArgs(spec, p, { accel: await this.#accelerator(), daemonize: true, incoming })
    try {
      // With -daemonize the command returns once the guest is set up and running in the background.
      await run(this.#o.binary, args, { timeout: 60_000 })
    } catch (e) {
      const err = e as Error & { stderr?: string }
      throw new Error(`qemu failed to start instance ${spec.id}: ${(err.stderr ?? err.message).trim()}`, { cause: e })
    }
  }

  /** Stops qemu at once (QMP quit, then SIGTERM, then SIGKILL) and removes its runtime files. */
  async #kill(p: InstancePaths): Promise<void> {
    const pid = await readPid(p.pid)
    if (pid !== undefined && await isOurQemu(pid, p.pid)) {
      const q = await QmpClient.connect(p.qmp, 2000).catch(() => undefined)
      await q?.execute('quit').catch(() => {})
      q?.close()
      if (!await waitGone(pid, p.pid, 5000)) {
        signal(pid, 'SIGTERM')
        if (!await waitGone(pid, p.pid, 5000)) {
          signal(pid, 'SIGKILL')
          await waitGone(pid, p.pid, 10_000)
        }
      }
    }
    await this.#cleanRuntime(p)
  }

  async #cleanRuntime(p: InstancePaths): Promise<void> {
    await Promise.all([p.pid, p.qmp, p.serial].map((f) => rm(f, { force: true })))
  }

  async #state(id: string): Promise<PowerStateName> {
    this.#spec(id)
    const p = this.#paths(id)
    const pid = await readPid(p.pid)
    if (pid === undefined || !await isOurQemu(pid, p.pid)) return existsSync(p.suspendState) ? 'suspended' : 'shutdown'
    try {
      const st = await this.#qmp(id, (q) => q.execute<{ status: string }>('query-status'))
      return RUN_STATE[st.status] ?? 'nostate'
    } catch {
      // Alive but not answering QMP (starting up or wedged): say so rather than guess.
      return await isOurQemu(pid, p.pid) ? 'nostate' : 'shutdown'
    }
  }

  async #qmp<T>(id: string, fn: (q: QmpClient) => Promise<T>): Promise<T> {
    const q = await QmpClient.connect(this.#paths(id).qmp)
    try { return await fn(q) } finally { q.close() }
  }

  #accelerator(): Promise<'kvm' | 'tcg'> {
    if (this.#o.accel !== 'auto') return Promise.resolve(this.#o.accel)
    this.#accel ??= probeAccel(this.#o.binary)
    return this.#accel
  }

  #spec(id: string): InstanceSpec {
    const spec = this.#specs.get(id)
    if (!spec) throw instanceNotFound(id)
    return spec
  }

  #paths(id: string): InstancePaths {
    return instancePaths(this.#o.root, id)
  }

  #locked<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.#locks.get(id) ?? Promise.resolve()
    const next = prev.catch(() => {}).then(fn)
    this.#locks.set(id, next)
    void next.finally(() => { if (this.#locks.get(id) === next) this.#locks.delete(id) }).catch(() => {})
    return next
  }
}

/** The Conflict for an operation that must wait until a resize is confirmed or reverted. */
function resizePending(id: string) {
  return conflict(`Instance ${id} has a resize awaiting confirmation or revert.`)
}

function sameFlavor(a: FlavorSpec, b: FlavorSpec): boolean {
  return a.vcpus === b.vcpus && a.ramMb === b.ramMb && a.diskGb === b.diskGb
}
