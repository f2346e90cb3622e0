// The in-memory virt driver: the qemu driver's state machine without guests, for API,
// scheduler and scale tests.
import { mkdir, rename, writeFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import { conflict } from '../../core/errors.ts'
import {
  instanceNotFound, invalidState, USER_NET_GUEST_IP,
  type FlavorSpec, type HostResources, type ImageRef, type InstanceInfo, type InstanceSpec,
  type NicAddress, type PowerStateName, type VirtDriver,
} from './driver.ts'

interface FakeInstance {
  spec: InstanceSpec
  state: PowerStateName
  console: string
  /** The flavor a pending resize would revert to. */
  oldFlavor?: FlavorSpec
  /** Bumped by rebuild: which "disk" the instance has, shown in its snapshots. */
  diskGen: number
}

/** The line the fake "guest" prints on each boot, as the real test guest does. */
export const FAKE_READY_MARKER = 'cumulo-guest ready'

/** Options for the fake driver: the host size it reports. */
export interface FakeDriverOptions {
  host?: Partial<HostResources>
}

/** A VirtDriver that keeps instances in memory and changes state at once. */
export class FakeDriver implements VirtDriver {
  readonly kind = 'fake'
  readonly #instances = new Map<string, FakeInstance>()
  readonly #host: HostResources

  constructor(opts: FakeDriverOptions = {}) {
    this.#host = { vcpus: 16, memoryMb: 65536, diskGb: 1000, ...opts.host }
  }

  async init(): Promise<void> {}

  async hostResources(): Promise<HostResources> {
    return { ...this.#host }
  }

  async list(): Promise<InstanceInfo[]> {
    return [...this.#instances.values()].map((i) => ({
      id: i.spec.id, state: i.state, ...i.spec.flavor,
      ...(i.oldFlavor ? { oldFlavor: { ...i.oldFlavor } } : {}),
    }))
  }

  async spawn(spec: InstanceSpec): Promise<void> {
    if (this.#instances.has(spec.id)) throw conflict(`Instance ${spec.id} already exists on this host.`)
    const inst: FakeInstance = { spec: structuredClone(spec), state: 'shutdown', console: '', diskGen: 1 }
    this.#instances.set(spec.id, inst)
    this.#boot(inst)
  }

  async destroy(id: string): Promise<void> {
    this.#instances.delete(id)
  }

  async powerOff(id: string): Promise<void> {
    const inst = this.#get(id)
    if (inst.state === 'shutdown') return
    // A suspended guest has no one to press the button for: its saved memory is dropped.
    if (inst.state !== 'suspended') inst.console += 'fake: powered off\n'
    inst.state = 'shutdown'
  }

  async powerOn(id: string): Promise<void> {
    const inst = this.#get(id)
    if (inst.state === 'running') return
    if (inst.state === 'paused' || inst.state === 'suspended') throw invalidState(id, 'power on', inst.state)
    this.#boot(inst)
  }

  async reboot(id: string, kind: 'soft' | 'hard'): Promise<void> {
    const inst = this.#get(id)
    // A soft reboot needs a guest that can hear the request; a hard one works from any state.
    if (kind === 'soft' && inst.state !== 'running') throw invalidState(id, 'reboot', inst.state)
    // A soft reboot is a clean shutdown then a boot, as in the qemu driver.
    inst.console += kind === 'soft' ? 'fake: powered off\n' : 'fake: hard reboot\n'
    this.#boot(inst)
  }

  async pause(id: string): Promise<void> {
    const inst = this.#get(id)
    if (inst.state === 'paused') return
    if (inst.state !== 'running') throw invalidState(id, 'pause', inst.state)
    inst.state = 'paused'
  }

  async unpause(id: string): Promise<void> {
    const inst = this.#get(id)
    if (inst.state === 'running') return
    if (inst.state !== 'paused') throw invalidState(id, 'unpause', inst.state)
    inst.state = 'running'
  }

  async getState(id: string): Promise<PowerStateName> {
    return this.#get(id).state
  }

  async consoleOutput(id: string, tailBytes = 65536): Promise<string> {
    const buf = Buffer.from(this.#get(id).console)
    return buf.subarray(Math.max(0, buf.length - tailBytes)).toString()
  }

  async addresses(id: string): Promise<NicAddress[]> {
    return this.#get(id).spec.nics.filter((n) => n.user && !n.tap).map((n) => ({ mac: n.mac, ip: USER_NET_GUEST_IP }))
  }

  async snapshot(id: string, destPath: string): Promise<void> {
    const inst = this.#get(id)
    // Not a disk image: a small file saying what it was taken from, written as the qemu one is.
    await mkdir(dirname(destPath), { recursive: true })
    const tmp = `${destPath}.part`
    await writeFile(tmp, `fake snapshot of ${id} (image ${inst.spec.image.path}, disk ${inst.diskGen})\n`)
    await rename(tmp, destPath)
  }

  async suspend(id: string): Promise<void> {
    const inst = this.#get(id)
    if (inst.state === 'suspended') return
    if (inst.state !== 'running') throw invalidState(id, 'suspend', inst.state)
    inst.state = 'suspended'
  }

  async resume(id: string): Promise<void> {
    const inst = this.#get(id)
    if (inst.state === 'running') return
    if (inst.state !== 'suspended') throw invalidState(id, 'resume', inst.state)
    inst.state = 'running'
  }

  async rebuild(id: string, image: ImageRef): Promise<void> {
    const inst = this.#get(id)
    if (inst.state === 'paused' || inst.state === 'suspended') throw invalidState(id, 'rebuild', inst.state)
    if (inst.oldFlavor) throw resizePending(id)
    const wasRunning = inst.state === 'running'
    if (wasRunning) inst.console += 'fake: powered off\n'
    inst.state = 'shutdown'
    inst.spec.image = structuredClone(image)
    inst.diskGen++
    if (wasRunning) this.#boot(inst)
  }

  async resize(id: string, flavor: FlavorSpec): Promise<void> {
    const inst = this.#get(id)
    if (inst.oldFlavor) {
      if (sameFlavor(inst.spec.flavor, flavor)) return
      throw resizePending(id)
    }
    if (inst.state === 'paused' || inst.state === 'suspended') throw invalidState(id, 'resize', inst.state)
    if (flavor.diskGb < inst.spec.flavor.diskGb) throw conflict(`Cannot shrink the root disk of instance ${id}.`)
    const wasRunning = inst.state === 'running'
    if (wasRunning) inst.console += 'fake: powered off\n'
    inst.oldFlavor = inst.spec.flavor
    inst.spec.flavor = { ...flavor }
    inst.state = 'shutdown'
    if (wasRunning) this.#boot(inst)
  }

  async confirmResize(id: string): Promise<void> {
    delete this.#get(id).oldFlavor
  }

  async revertResize(id: string): Promise<void> {
    const inst = this.#get(id)
    if (!inst.oldFlavor) return
    const wasRunning = inst.state === 'running' || inst.state === 'paused'
    if (wasRunning) inst.console += 'fake: powered off\n'
    inst.spec.flavor = inst.oldFlavor
    delete inst.oldFlavor
    inst.state = 'shutdown'
    if (wasRunning) this.#boot(inst)
  }

  /** A boot as the test guest logs one on its serial console, ending with the ready marker. */
  #boot(inst: FakeInstance): void {
    inst.state = 'running'
    const f = inst.spec.flavor
    inst.console += `fake: booting ${inst.spec.id} with ${f.vcpus} vCPU, ${f.ramMb} MiB\n` +
      `fake: root disk ${f.diskGb} GiB from ${inst.spec.image.path}\n` +
      `fake: ${inst.spec.nics.length} NIC(s)\n` +
      `${FAKE_READY_MARKER} ${inst.spec.name ?? inst.spec.id}\n`
  }

  #get(id: string): FakeInstance {
    const inst = this.#instances.get(id)
    if (!inst) throw instanceNotFound(id)
    return inst
  }
}

/** The Conflict for an operation that must wait until a resize is confirmed or reverted. */
function resizePending(id: string) {
  return conflict(`Instance ${id} has a resize awaiting confirmation or revert.`)
}

function sameFlavor(a: FlavorSpec, b: FlavorSpec): boolean {
  return a.vcpus === b.vcpus && a.ramMb === b.ramMb && a.diskGb === b.diskGb
}
