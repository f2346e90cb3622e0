// The virt driver contract: what the compute agent needs from a hypervisor.
// Implementations: `qemu` (real guests) and `fake` (in memory). Both pass
// test/conformance/virt-driver.ts.
import { CloudError } from '../../core/errors.ts'

/** Nova's power states (nova/compute/power_state.py), with their numeric codes. */
export const PowerState = {
  nostate: 0, running: 1, paused: 3, shutdown: 4, crashed: 6, suspended: 7,
} as const
export type PowerStateName = keyof typeof PowerState

/** One virtual NIC. Without a tap the NIC is left out: the network agent creates taps. */
export interface NicSpec {
  mac: string
  /** Host tap device in the network's bridge; qemu opens it with script=no. */
  tap?: string
}

/** The root disk's base image on this host (already downloaded from Glance). */
export interface ImageRef {
  path: string
  format: 'qcow2' | 'raw'
  /** For images that are not bootable by themselves (AMI/ARI style): direct kernel boot. */
  kernel?: string
  initrd?: string
  cmdline?: string
}

/** Everything needed to create one instance on this host. */
export interface InstanceSpec {
  id: string
  name?: string
  image: ImageRef
  flavor: { vcpus: number; ramMb: number; diskGb: number }
  nics: NicSpec[]
  /** Served to the guest by the metadata service; the driver keeps a copy with the instance. */
  userData?: string
  /** Where the serial console is logged; default: inside the instance's directory. */
  consoleLog?: string
}

/** What the driver observes about one instance it owns. */
export interface InstanceInfo {
  id: string
  state: PowerStateName
  vcpus: number
  ramMb: number
  diskGb: number
}

/** The host's capacity, for placement inventories (VCPU, MEMORY_MB, DISK_GB). */
export interface HostResources {
  vcpus: number
  memoryMb: number
  diskGb: number
}

/**
 * What the compute agent needs from a hypervisor. Power operations are idempotent where Nova's
 * are (powering off a stopped instance succeeds); operations on an unknown id throw NotFound,
 * and operations that make no sense in the current state (pause a stopped guest) throw Conflict.
 */
export interface VirtDriver {
  readonly kind: string
  /** Adopts instances left by a previous run of the agent (still running or stopped). */
  init(): Promise<void>
  hostResources(): Promise<HostResources>
  /** Every instance this driver owns on the host, for reconciliation. */
  list(): Promise<InstanceInfo[]>
  /** Creates the instance's disk and starts it; resolves once the hypervisor runs it. */
  spawn(spec: InstanceSpec): Promise<void>
  /** Stops the instance if needed and removes every file it owned. Unknown ids are a no-op. */
  destroy(id: string): Promise<void>
  /** ACPI power-off; after `timeoutMs` (default 60 s) without the guest obeying, a hard stop. */
  powerOff(id: string, opts?: { timeoutMs?: number }): Promise<void>
  powerOn(id: string): Promise<void>
  /** soft: clean shutdown (as powerOff) then start; hard: an immediate reset. */
  reboot(id: string, kind: 'soft' | 'hard'): Promise<void>
  pause(id: string): Promise<void>
  unpause(id: string): Promise<void>
  getState(id: string): Promise<PowerStateName>
  /** The last `tailBytes` (default 64 KiB) of the serial console. */
  consoleOutput(id: string, tailBytes?: number): Promise<string>
}

/** The error for an instance this driver does not own. */
export function instanceNotFound(id: string): CloudError {
  return new CloudError('NotFound', `Instance ${id} could not be found.`, 'InstanceNotFound')
}

/** The error for an operation the instance's current power state does not allow. */
export function invalidState(id: string, op: string, state: PowerStateName): CloudError {
  return new CloudError('Conflict', `Cannot '${op}' instance ${id} while it is ${state}.`,
    'InstanceInvalidState')
}
