// The virt driver contract: what the compute agent needs from a hypervisor.
// Implementations: `qemu` (real guests) and `fake` (in memory). Both pass
// test/conformance/virt-driver.ts.
import { CloudError } from '../../core/errors.ts'

/** Nova's power states (nova/compute/power_state.py), with their numeric codes. */
export const PowerState = {
  nostate: 0, running: 1, paused: 3, shutdown: 4, crashed: 6, suspended: 7,
} as const
export type PowerStateName = keyof typeof PowerState

/**
 * One virtual NIC: either a tap (a real network, plugged by the network agent) or QEMU user-mode
 * networking (`user`, docs/compute.md "Networking before Neutron"). A NIC with neither is left
 * out of the guest.
 */
export interface NicSpec {
  mac: string
  /** Host tap device in the network's bridge; qemu opens it with script=no. */
  tap?: string
  /**
   * User-mode networking on 169.254.0.0/16 with `restrict=on`: the guest reaches nothing outside;
   * it gets its address by DHCP (always {@link USER_NET_GUEST_IP} for the first NIC's guest),
   * and each TCP connection to 169.254.169.254:80 is handed to the Unix socket `metadataSocket`,
   * where the agent serves that instance's metadata (HTTP) and no one else's.
   */
  user?: { metadataSocket: string }
}

/** The address a guest gets by DHCP on a user-mode NIC (slirp's first lease, `dhcpstart`). */
export const USER_NET_GUEST_IP = '169.254.0.15'

/** A guest address the driver knows (user-mode NICs; tap addresses belong to the network). */
export interface NicAddress {
  mac: string
  ip: string
}

/** The size of an instance: Nova's flavor, as the hypervisor sees it. */
export interface FlavorSpec {
  vcpus: number
  ramMb: number
  /** Root disk size; 0 means "the image's own size". */
  diskGb: number
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
  flavor: FlavorSpec
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
  /** Set while a resize awaits confirmResize/revertResize: the flavor a revert goes back to. */
  oldFlavor?: FlavorSpec
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
  /**
   * Adopts instances left by a previous run of the agent (running, paused, stopped or
   * suspended, and a resize awaiting confirmation), all from their files on the host.
   */
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
  /**
   * The guest addresses the driver itself knows: one per user-mode NIC ({mac, ip}); tap NICs
   * are not listed (their addresses are the network's). Works in every state.
   */
  addresses(id: string): Promise<NicAddress[]>
  /**
   * Writes a standalone (flattened, no backing file) qcow2 of the root disk to `destPath`
   * (overwritten; written to a temporary name and renamed, so it never is half there).
   * Consistent: a running guest is paused for the copy and resumed after; a paused, stopped
   * or suspended one keeps its state.
   */
  snapshot(id: string, destPath: string): Promise<void>
  /**
   * Nova's suspend: saves the guest's memory to disk and stops the process (state
   * 'suspended', which survives an agent restart). Idempotent on a suspended instance;
   * Conflict unless running (as Nova: suspend is for ACTIVE servers).
   */
  suspend(id: string): Promise<void>
  /** Restores a suspended guest where it was (running). Idempotent on a running one; Conflict otherwise. */
  resume(id: string): Promise<void>
  /**
   * Replaces the root disk with a fresh one on `image` (keeps id, flavor, NICs, console log);
   * a running guest is stopped first and started again, a stopped one stays stopped.
   * Conflict when paused, suspended or while a resize awaits confirmation. Not idempotent
   * by nature: each call gives a fresh disk.
   */
  rebuild(id: string, image: ImageRef): Promise<void>
  /**
   * Changes the flavor: stops the guest (clean shutdown, then hard), keeps a copy of the root
   * disk for a revert, grows the disk to the new root size and starts it again if it was running.
   * A smaller root disk than the current one is a Conflict (disks never shrink). Conflict when
   * paused or suspended, or when another resize awaits confirmation (a repeat with the same
   * flavor is a no-op). The instance then lists `oldFlavor` until confirm or revert.
   */
  resize(id: string, flavor: FlavorSpec): Promise<void>
  /** Drops the kept disk and old flavor. A no-op when no resize is pending. */
  confirmResize(id: string): Promise<void>
  /**
   * Stops the guest, restores the kept disk and old flavor, and starts it again if it was
   * running. A no-op when no resize is pending.
   */
  revertResize(id: string): Promise<void>
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
