import { type ChildProcess, spawn, execFile } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'

const ROOT = resolve(import.meta.dirname, '..', '..')

/** A `cumulo up` child process on a temporary data dir, as a newcomer would run it. */
export interface CloudProcess {
  dataDir: string
  identityUrl: string
  env: NodeJS.ProcessEnv
  child: ChildProcess
  output(): string
  /** SIGTERM and wait; resolves with the exit code. */
  stop(): Promise<number | null>
  /** Starts it again on the same data dir. */
  restart(): Promise<void>
  /** Stops (if running) and removes the data dir. */
  destroy(): Promise<void>
}

export interface CloudProcessOptions {
  portOffset: number
  adminPassword?: string
  args?: string[]
}

export async function startCloudProcess(o: CloudProcessOptions): Promise<CloudProcess> {
  const dataDir = mkdtempSync(join(tmpdir(), 'cumulo-e2e-'))
  let out = ''
  let child!: ChildProcess
  const identityUrl = `http://127.0.0.1:${5000 + o.portOffset}/v3`
  const launch = async () => {
    const from = out.length  // a restart looks for its own banner, not the previous one
    child = spawn(process.execPath, [join(ROOT, 'bin/cumulo.js'), 'up', '--data-dir', dataDir,
      '--port-offset', String(o.portOffset), ...(o.args ?? [])], {
      env: { ...process.env, CUMULO_LOG_LEVEL: 'warn', ...(o.adminPassword ? { CUMULO_ADMIN_PASSWORD: o.adminPassword } : {}) },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    child.stdout!.on('data', (d) => { out += d })
    child.stderr!.on('data', (d) => { out += d })
    const deadline = Date.now() + 30_000
    while (Date.now() < deadline) {
      if (child.exitCode !== null) throw new Error(`cumulo up exited ${child.exitCode}:\n${out}`)
      if (out.indexOf('Cumulo is up.', from) >= 0) return
      await new Promise((r) => setTimeout(r, 100))
    }
    child.kill('SIGKILL')
    throw new Error(`cumulo up did not start in 30 s:\n${out}`)
  }
  await launch()
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode) return child.exitCode
    const done = new Promise<number | null>((r) => child.once('exit', (code) => r(code)))
    child.kill('SIGTERM')
    const t = setTimeout(() => child.kill('SIGKILL'), 15_000)
    const code = await done
    clearTimeout(t)
    return code
  }
  return {
    dataDir, identityUrl, get child() { return child },
    env: { ...process.env, OS_CLIENT_CONFIG_FILE: join(dataDir, 'clouds.yaml'), OS_CLOUD: 'cumulo' },
    output: () => out,
    stop,
    async restart() { await stop(); await launch() },
    async destroy() { await stop(); rmSync(dataDir, { recursive: true, force: true }) },
  } as CloudProcess
}

export interface CmdResult { code: number; stdout: string; stderr: string }

/** Runs a command (a real client) and captures its output; never throws on a non-zero exit. */
export function run(cmd: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs = 120_000): Promise<CmdResult> {
  return new Promise((resolveRun) => {
    execFile(cmd, args, { env, timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as any).code === 'number' ? (err as any).code : 1) : 0
      resolveRun({ code, stdout: String(stdout), stderr: String(stderr) })
    })
  })
}

/** True when a command exists on PATH. */
export async function have(cmd: string): Promise<boolean> {
  const r = await run('sh', ['-c', `command -v ${cmd}`], process.env, 5000)
  return r.code === 0
}
