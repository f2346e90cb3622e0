// The in-memory virt driver: the qemu driver's state machine without guests, for API,
// scheduler and scale tests.
import { conflict } from '../../core/errors.ts'
import {
  instanceNotFound, invalidState,
  type HostResources, type InstanceInfo, type InstanceSpec, type PowerStateName, type VirtDriver,
} from './driver.ts'

interface FakeInstance {
  spec: InstanceSpec
  state: PowerStateName
  console: string
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
      id: i.spec.id, state: i.state, vcpus: i.spec.flavor.vcpus,
      ramMb: i.spec.flavor.ramMb, diskGb: i.spec.flavor.diskGb,
    }))
  }

  async spawn(spec: InstanceSpec): Promise<void> {
    if (this.#instances.has(spec.id)) throw conflict(`Instance ${spec.id} already exists on this host.`)
    const inst: FakeInstance = { spec: structuredClone(spec), state: 'shutdown', console: '' }
    this.#instances.set(spec.id, inst)
    this.#boot(inst)
  }

  async destroy(id: string): Promise<void> {
    this.#instances.delete(id)
  }

  async powerOff(id: string): Promise<void> {
    const inst = this.#get(id)
    if (inst.state === 'shutdown') return
    inst.console += 'fake: powered off\n'
    inst.state = 'shutdown'
  }

  async powerOn(id: string): Promise<void> {
    const inst = this.#get(id)
    if (inst.state === 'running') return
    if (inst.state === 'paused') throw invalidState(id, 'power on', inst.state)
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

  #boot(inst: FakeInstance): void {
    inst.state = 'running'
    inst.console += `${FAKE_READY_MARKER} ${inst.spec.name ?? inst.spec.id}\n`
  }

  #get(id: string): FakeInstance {
    const inst = this.#instances.get(id)
    if (!inst) throw instanceNotFound(id)
    return inst
  }
}
