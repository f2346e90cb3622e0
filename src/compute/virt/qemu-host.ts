// Host-side helpers for the qemu driver: qemu processes found by pid file, the KVM probe,
// qemu-img overlays.
import { spawn as spawnChild, execFile } from 'node:child_process'
import { access, constants, readFile } from 'node:fs/promises'
import { promisify } from 'node:util'

const run = promisify(execFile)

/** The pid in a qemu `-pidfile`, if the file exists and holds one. */
export async function readPid(file: string): Promise<number | undefined> {
  try {
    const pid = Number.parseInt((await readFile(file, 'utf8')).trim(), 10)
    return pid > 0 ? pid : undefined
  } catch {
    return undefined
  }
}

/**
 * Whether `pid` is alive and is the qemu that wrote `pidFile`: pids get reused, so the
 * process's command line must name that pid file too.
 */
export async function isOurQemu(pid: number, pidFile: string): Promise<boolean> {
  try {
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8')
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8')
    // A zombie (state Z) has exited already; it only waits for its parent to reap it.
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3)
    return state !== 'Z' && cmdline.split('\0').includes(pidFile)
  } catch {
    return false
  }
}

/** Waits until `pid` is gone (or a zombie); false if it still runs after `timeoutMs`. */
export async function waitGone(pid: number, pidFile: string, timeoutMs: number): Promise<boolean> {
  const until = Date.now() + timeoutMs
  while (await isOurQemu(pid, pidFile)) {
    if (Date.now() > until) return false
    await new Promise((r) => setTimeout(r, 50))
  }
  return true
}

/** Sends a signal, ignoring a process that has already gone. */
export function signal(pid: number, sig: NodeJS.Signals): void {
  try { process.kill(pid, sig) } catch { /* already gone */ }
}

/** The virtual size in bytes of an image, per `qemu-img info`. */
export async function imageVirtualSize(qemuImg: string, path: string, format: string): Promise<number> {
  const { stdout } = await run(qemuImg, ['info', '--output=json', '-f', format, path])
  return (JSON.parse(stdout) as { 'virtual-size': number })['virtual-size']
}

/**
 * Creates a qcow2 overlay on a base image (the shared, cached copy of a Glance image), grown to
 * `sizeBytes` when that is larger than the image: the flavor's root disk size.
 */
export async function createOverlay(qemuImg: string, o: { base: string; baseFormat: string; overlay: string; sizeBytes: number }): Promise<void> {
  const virtual = await imageVirtualSize(qemuImg, o.base, o.baseFormat)
  const size = Math.max(virtual, o.sizeBytes)
  await run(qemuImg, ['create', '-q', '-f', 'qcow2', '-F', o.baseFormat, '-b', o.base, o.overlay, String(size)])
}

/**
 * Which accelerator to use: KVM only when /dev/kvm is usable and a short probe shows a KVM
 * machine starting and running; otherwise TCG. On these build hosts /dev/kvm may exist but
 * belong to a paravirtual host where qemu aborts at once (GUEST.md), which the probe catches.
 * A KVM that starts but hangs guests later is not caught: force 'tcg' in the config then.
 */
export async function probeAccel(binary: string, timeoutMs = 3000): Promise<'kvm' | 'tcg'> {
  try { await access('/dev/kvm', constants.R_OK | constants.W_OK) } catch { return 'tcg' }
  return new Promise((resolve) => {
    const child = spawnChild(binary, ['-accel', 'kvm', '-machine', 'pc', '-cpu', 'host', '-nodefaults',
      '-no-user-config', '-display', 'none', '-m', '64', '-qmp', 'stdio'], { stdio: ['pipe', 'pipe', 'ignore'] })
    let out = ''
    let done = false
    const finish = (accel: 'kvm' | 'tcg') => {
      if (done) return
      done = true
      clearTimeout(timer)
      child.kill('SIGKILL')
      resolve(accel)
    }
    const timer = setTimeout(() => finish('tcg'), timeoutMs)
    child.on('error', () => finish('tcg'))
    child.on('exit', () => finish('tcg'))
    child.stdout.setEncoding('utf8')
    child.stdout.on('data', (d: string) => {
      out += d
      if (out.includes('"QMP"') && !out.includes('query-sent')) {
        out += 'query-sent'
        child.stdin.write('{"execute":"qmp_capabilities"}\n')
        // Let the vCPU run the firmware for a moment: a broken KVM aborts within it.
        setTimeout(() => child.stdin.write('{"execute":"query-status"}\n'), Math.min(1000, timeoutMs / 2))
      }
      if (/"status":\s*"running"/.test(out)) finish('kvm')
    })
  })
}

/**
 * Writes a standalone qcow2 of `src` (an overlay: its whole backing chain flattened) to `dest`.
 * `-U` reads without taking qemu's lock: the caller makes sure the guest is not writing (paused
 * or stopped), which is what makes the copy consistent.
 */
export async function convertFlat(qemuImg: string, src: string, dest: string): Promise<void> {
  await run(qemuImg, ['convert', '-U', '-q', '-f', 'qcow2', '-O', 'qcow2', src, dest], { timeout: 3_600_000 })
}

/** Grows a qcow2 image to `sizeBytes` (never called to shrink). */
export async function growImage(qemuImg: string, path: string, sizeBytes: number): Promise<void> {
  await run(qemuImg, ['resize', '-q', '-f', 'qcow2', path, String(sizeBytes)])
}
