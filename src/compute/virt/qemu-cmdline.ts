// The qemu-system-x86_64 command line for one instance (GUEST.md, "Booting").
import { join } from 'node:path'
import type { InstanceSpec } from './driver.ts'

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
  }
}

/** Options that are the host's choice rather than the instance's. */
export interface CmdlineOptions {
  accel: 'kvm' | 'tcg'
  /** Whether qemu forks into the background after start-up (the driver's default). */
  daemonize: boolean
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
    '-chardev', `socket,id=serial0,path=${p.serial},server=on,wait=off,logfile=${consoleLog},logappend=on`,
    '-serial', 'chardev:serial0',
    '-qmp', `unix:${p.qmp},server=on,wait=off`,
    '-pidfile', p.pid,
    '-blockdev', `driver=file,node-name=root-file,filename=${p.disk},cache.direct=off`,
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
    // Without a tap there is no NIC at all: never user-mode networking to the outside.
    if (!nic.tap) return
    args.push('-netdev', `tap,id=net${i},ifname=${nic.tap},script=no,downscript=no`,
      '-device', `virtio-net-pci,netdev=net${i},mac=${nic.mac}`)
  })
  if (o.daemonize) args.push('-daemonize')
  return args
}

/** `-uuid` wants a UUID (it becomes the guest's SMBIOS UUID); other ids simply get none. */
function isUuid(id: string): boolean {
  return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id)
}
