// The qemu-system-x86_64 command line for one instance (GUEST.md, "Booting").
import { join } from 'node:path'
import { USER_NET_GUEST_IP, type InstanceSpec } from './driver.ts'

/** The script QEMU's user network runs per metadata connection (see metadata-proxy.mjs). */
export const METADATA_PROXY = join(import.meta.dirname, 'metadata-proxy.mjs')

/** The files of one instance, all inside its directory so destroy removes them together. */
export interface InstancePaths {
  dir: string
  spec: string
  disk: string
  pid: string
  qmp: string
  serial: string
  console: string
  userData: string
  /** The guest's saved memory while suspended (its presence is the 'suspended' state). */
  suspendState: string
  /** While a resize awaits confirmation: the root disk and spec from before it. */
  resizeDisk: string
  resizeSpec: string
}

/** The file layout of instance `id` under `root`. */
export function instancePaths(root: string, id: string): InstancePaths {
  const dir = join(root, id)
  return {
    dir,
    spec: join(dir, 'spec.json'),
    disk: join(dir, 'disk.qcow2'),
    pid: join(dir, 'qemu.pid'),
    qmp: join(dir, 'qmp.sock'),
    serial: join(dir, 'console.sock'),
    console: join(dir, 'console.log'),
    userData: join(dir, 'user-data'),
    suspendState: join(dir, 'suspend.state'),
    resizeDisk: join(dir, 'disk.pre-resize.qcow2'),
    resizeSpec: join(dir, 'spec.pre-resize.json'),
  }
}

/** Options that are the host's choice rather than the instance's. */
export interface CmdlineOptions {
  accel: 'kvm' | 'tcg'
  /** Whether qemu forks into the background after start-up (the driver's default). */
  daemonize: boolean
  /** A saved state (suspend) to load at start: the guest then waits, paused, for `cont`. */
  incoming?: string
  /** The node binary the metadata proxy runs with (default: this process's). */
  node?: string
}

/** The argument vector (without the binary) that starts `spec`. */
export function qemuArgs(spec: InstanceSpec, p: InstancePaths, o: CmdlineOptions): string[] {
  const consoleLog = spec.consoleLog ?? p.console
  const args = [
    '-name', `guest=${spec.id},debug-threads=on`,
    '-machine', 'pc',
    // A smaller translation cache keeps a TCG guest near 200 MiB RSS instead of ~240.
    '-accel', o.accel === 'tcg' ? 'tcg,tb-size=32' : 'kvm',
    ...(o.accel === 'kvm' ? ['-cpu', 'host'] : []),
    '-smp', String(spec.flavor.vcpus),
    '-m', String(spec.flavor.ramMb),
    '-nodefaults', '-no-user-config', '-display', 'none',
    ...(isUuid(spec.id) ? ['-uuid', spec.id] : []),
    // The serial console goes to a socket (interactive console later) and a log file at once.
    '-chardev', `socket,id=serial0,path=${opt(p.serial)},server=on,wait=off,logfile=${opt(consoleLog)},logappend=on`,
    '-serial', 'chardev:serial0',
    '-qmp', `unix:${opt(p.qmp)},server=on,wait=off`,
    '-pidfile', p.pid,
    '-blockdev', `driver=file,node-name=root-file,filename=${opt(p.disk)},cache.direct=off`,
    '-blockdev', 'driver=qcow2,node-name=root,file=root-file',
    '-device', 'virtio-blk-pci,drive=root,id=root-disk',
    '-device', 'virtio-rng-pci',
    '-device', 'virtio-balloon-pci',
  ]
  if (spec.image.kernel) {
    // Direct kernel boot; `bootindex` must not be given together with -kernel.
    args.push('-kernel', spec.image.kernel)
    if (spec.image.initrd) args.push('-initrd', spec.image.initrd)
    args.push('-append', spec.image.cmdline ?? 'console=ttyS0 quiet panic=-1')
  }
  spec.nics.forEach((nic, i) => {
    if (nic.tap) {
      args.push('-netdev', `tap,id=net${i},ifname=${opt(nic.tap)},script=no,downscript=no`)
    } else if (nic.user) {
      args.push('-netdev', userNetdev(`net${i}`, nic.user.metadataSocket, o.node ?? process.execPath))
    } else {
      return  // neither: no NIC at all, never one with a way out
    }
    args.push('-device', `virtio-net-pci,netdev=net${i},mac=${opt(nic.mac)}`)
  })
  if (o.incoming) {
    // -S: after loading, the guest stays paused until the driver has checked it and says `cont`.
    args.push('-S', '-incoming', `exec:cat ${shQuote(o.incoming)}`)
  }
  if (o.daemonize) args.push('-daemonize')
  return args
}

/**
 * A user-mode (slirp) network on 169.254.0.0/16, so 169.254.169.254 is inside it: restrict=on
 * drops every packet the guest sends anywhere but slirp itself (no way out to the host's
 * networks), and guestfwd hands each TCP connection to 169.254.169.254:80 to a fresh
 * `node metadata-proxy.mjs <socket>` (libslirp runs the command once per connection, splitting
 * it with shell-like quoting but no shell) that joins it to the agent's metadata socket for
 * this instance. Slirp answers ARP for guestfwd addresses, so the guest reaches it on-link.
 */
function userNetdev(id: string, metadataSocket: string, node: string): string {
  const cmd = [node, METADATA_PROXY, metadataSocket].map(shQuote).join(' ')
  return [
    `user,id=${id}`, 'net=169.254.0.0/16', 'host=169.254.0.2', `dhcpstart=${USER_NET_GUEST_IP}`,
    'restrict=on', `guestfwd=tcp:169.254.169.254:80-cmd:${opt(cmd)}`,
  ].join(',')
}

/** A value inside a QEMU option string: commas are doubled, or they would end the value. */
function opt(v: string): string {
  return v.replaceAll(',', ',,')
}

/** Single-quotes a word for /bin/sh and GLib's shell-style splitting, unless it is plain. */
export function shQuote(s: string): string {
  return /^[A-Za-z0-9_./:=@+-]+$/.test(s) ? s : `'${s.replaceAll("'", `'\\''`)}'`
}

/** `-uuid` wants a UUID (it becomes the guest's SMBIOS UUID); other ids simply get none. */
function isUuid(id: string): boolean {
  return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id)
}
