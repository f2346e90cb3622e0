import { spawnSync } from 'node:child_process'
import { hostname } from 'node:os'
import { parseArgs } from 'node:util'
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import YAML from 'yaml'
import type { IdentityConfig } from '../identity/index.ts'
import { KeyRepository } from '../identity/token-keys.ts'
import { startAllInOne } from './all-in-one.ts'
import { ringCommand } from '../object/ring/cli.ts'

const USAGE = `cumulo — an open cloud speaking the OpenStack and S3 APIs

Usage:
  cumulo up [--data-dir DIR] [--bind IP] [--public-host HOST] [--database URL]
            [--port-offset N] [--config FILE] [--set section.option=value ...]
      Start the all-in-one cloud in this process. Writes DIR/clouds.yaml (cloud "cumulo").
  cumulo ring create|add|remove|set-weight|rebalance|show|get-nodes|write …
      Build and inspect object-storage rings (run without arguments for usage).
  cumulo compute-agent --control-url URL --identity-url URL --image-url URL --user NAME
            --password-file FILE [--host NAME] [--data-dir DIR] [--driver qemu|fake] [--bind IP]
      Run this machine as a compute host of a cloud whose controller is elsewhere.
  cumulo guest [--data-dir DIR]
      Build the project's tiny test guest (Debian packages; needs root) into DIR/guest; the next
      \`cumulo up\` imports it as the public image "cumulo-guest" with a flavor "cumulo.tiny".
  cumulo token-keys rotate [--data-dir DIR]
      Rotate the token encryption keys (restart or wait for reload on other controllers).
  cumulo help

Options:
  --data-dir DIR     state directory (default ./.cumulo)
  --bind IP          address to listen on (default 127.0.0.1)
  --database URL     postgres://user:pass@host/db (default: SQLite under DIR/db)
  --set identity.lockout_failure_attempts=2   keystone.conf-style options
  --set object.replicas=1   replicas (default 3) and object.part_power (10) of the
                     object-store rings made at first start; object.daemons=off runs no
                     replicators, auditor, updaters or expirer (benchmarks)
  --set compute.driver=qemu|fake   real guests under QEMU (default when qemu-system-x86_64
                     is installed) or simulated ones; compute.fake_hosts=N runs N fake hosts
Environment: CUMULO_ADMIN_PASSWORD (first start), CUMULO_LOG_LEVEL (info)`

/** keystone.conf option names → IdentityConfig fields. */
const IDENTITY_OPTIONS: Record<string, keyof IdentityConfig> = {
  token_expiration: 'tokenExpiration',
  lockout_failure_attempts: 'lockoutFailureAttempts',
  lockout_duration: 'lockoutDuration',
  unique_last_password_count: 'uniqueLastPasswordCount',
  minimum_password_age: 'minimumPasswordAge',
  password_expires_days: 'passwordExpiresDays',
}

function fail(msg: string): never {
  process.stderr.write(`cumulo: ${msg}\n`)
  process.exit(2)
}

function identityConfig(file: string | undefined, sets: string[]): Partial<IdentityConfig> {
  const out: Partial<IdentityConfig> = {}
  const put = (key: string, value: unknown) => {
    const field = IDENTITY_OPTIONS[key]
    if (!field) fail(`unknown option identity.${key}`)
    const n = Number(value)
    if (!Number.isFinite(n) || n < 0) fail(`identity.${key} must be a non-negative number`)
    out[field] = n
  }
  if (file) {
    const doc = YAML.parse(readFileSync(file, 'utf8')) ?? {}
    for (const [k, v] of Object.entries(doc.identity ?? {})) put(k, v)
  }
  for (const s of sets) {
    if (s.startsWith('object.') || s.startsWith('compute.')) continue // objectConfig's, computeConfig's
    const m = /^identity\.([a-z_]+)=(.*)$/.exec(s)
    if (!m) fail(`--set wants identity.option=value, object.option=value or compute.option=value, got "${s}"`)
    put(m[1]!, m[2])
  }
  return out
}

/** What `--set object.*` configures: the rings made at first start, and the background daemons. */
interface ObjectConfig { replicas?: number; partPower?: number; daemons?: boolean }

function objectConfig(file: string | undefined, sets: string[]): ObjectConfig {
  const out: ObjectConfig = {}
  const int = (key: string, value: unknown, min: number, max: number) => {
    const n = Number(value)
    if (!Number.isInteger(n) || n < min || n > max) fail(`object.${key} must be an integer ${min}..${max}`)
    return n
  }
  const put = (key: string, value: unknown) => {
    switch (key) {
      case 'replicas': out.replicas = int(key, value, 1, 16); break
      case 'part_power': out.partPower = int(key, value, 1, 22); break
      case 'daemons': {
        // Replicators, auditor, updaters, expirer, container sync (off: benchmarks, tests).
        const v = String(value).toLowerCase()
        if (!['on', 'off', 'true', 'false', 'yes', 'no'].includes(v)) fail('object.daemons must be on or off')
        out.daemons = ['on', 'true', 'yes'].includes(v)
        break
      }
      default: fail(`unknown option object.${key}`)
    }
  }
  if (file) {
    const doc = YAML.parse(readFileSync(file, 'utf8')) ?? {}
    for (const [k, v] of Object.entries(doc.object ?? {})) put(k, v)
  }
  for (const s of sets) {
    const m = /^object\.([a-z_]+)=(.*)$/.exec(s)
    if (m) put(m[1]!, m[2])
  }
  return out
}

/** What `--set compute.*` configures: the virt driver of the in-process agent(s). */
export interface ComputeConfig { driver?: 'qemu' | 'fake'; fakeHosts?: number }

function computeConfig(file: string | undefined, sets: string[]): ComputeConfig {
  const out: ComputeConfig = {}
  const put = (key: string, value: unknown) => {
    switch (key) {
      case 'driver': {
        const v = String(value)
        if (v !== 'qemu' && v !== 'fake') fail('compute.driver must be qemu or fake')
        out.driver = v
        break
      }
      case 'fake_hosts': {
        const n = Number(value)
        if (!Number.isInteger(n) || n < 1 || n > 1000) fail('compute.fake_hosts must be an integer 1..1000')
        out.fakeHosts = n
        break
      }
      default: fail(`unknown option compute.${key}`)
    }
  }
  if (file) {
    const doc = YAML.parse(readFileSync(file, 'utf8')) ?? {}
    for (const [k, v] of Object.entries(doc.compute ?? {})) put(k, v)
  }
  for (const s of sets) {
    const m = /^compute\.([a-z_]+)=(.*)$/.exec(s)
    if (m) put(m[1]!, m[2])
  }
  return out
}

async function up(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args, strict: true,
    options: {
      'data-dir': { type: 'string', default: '.cumulo' },
      bind: { type: 'string', default: '127.0.0.1' },
      'public-host': { type: 'string' },
      database: { type: 'string' },
      'port-offset': { type: 'string', default: '0' },
      config: { type: 'string' },
      set: { type: 'string', multiple: true, default: [] },
    },
  })
  const dataDir = resolve(values['data-dir']!)
  mkdirSync(dataDir, { recursive: true, mode: 0o700 })
  const pidFile = join(dataDir, 'cumulo.pid')
  if (existsSync(pidFile)) {
    const pid = Number(readFileSync(pidFile, 'utf8'))
    if (pid && pid !== process.pid && alive(pid)) fail(`another cumulo (pid ${pid}) is running on ${dataDir}`)
  }
  writeFileSync(pidFile, String(process.pid))
  const offset = Number(values['port-offset'])
  if (!Number.isInteger(offset) || offset < 0 || offset > 60000) fail('--port-offset must be an integer 0..60000')
  let cloud
  try {
    cloud = await startAllInOne({
      dataDir, bind: values.bind!, publicHost: values['public-host'], database: values.database,
      portOffset: offset, adminPassword: process.env.CUMULO_ADMIN_PASSWORD || undefined,
      identity: identityConfig(values.config, values.set as string[]),
      object: objectConfig(values.config, values.set as string[]),
      compute: computeConfig(values.config, values.set as string[]),
      logLevel: process.env.CUMULO_LOG_LEVEL,
    })
  } catch (err) {
    rmSync(pidFile, { force: true })
    fail(`could not start: ${(err as Error).message}`)
  }
  const lines = ['', 'Cumulo is up.', '']
  for (const [svc, url] of Object.entries(cloud.endpoints)) lines.push(`  ${svc.padEnd(14)} ${url}`)
  lines.push('', cloud.computeDriver === 'qemu'
    ? '  compute        qemu driver: servers are real guests under QEMU'
    : '  compute        fake driver: servers are simulated (install qemu-system-x86 and qemu-utils for real guests)')
  lines.push('', `  clouds.yaml    ${cloud.cloudsYaml}  (cloud "cumulo", user admin)`,
    '', `  export OS_CLIENT_CONFIG_FILE=${cloud.cloudsYaml} OS_CLOUD=cumulo`, '  openstack token issue', '')
  process.stdout.write(lines.join('\n') + '\n')
  let stopping = false
  const stop = async (sig: string) => {
    if (stopping) return
    stopping = true
    process.stdout.write(`\n${sig}: stopping…\n`)
    const force = setTimeout(() => process.exit(1), 10_000).unref()
    await cloud.stop()
    clearTimeout(force)
    rmSync(pidFile, { force: true })
    process.exit(0)
  }
  process.on('SIGINT', () => void stop('SIGINT'))
  process.on('SIGTERM', () => void stop('SIGTERM'))
}

/**
 * A compute host of a multi-host cloud: the same agent `cumulo up` runs in-process, here
 * against a controller elsewhere, with this host's own Keystone user (admin and service on the
 * `service` project, as Nova's service user; e.g. `openstack user create --project service
 * --password-prompt compute-h2 && openstack role add --project service --user compute-h2 admin`).
 */
async function computeAgent(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, strict: true, options: {
    'control-url': { type: 'string' }, 'identity-url': { type: 'string' }, 'image-url': { type: 'string' },
    user: { type: 'string' }, 'password-file': { type: 'string' }, host: { type: 'string' },
    'data-dir': { type: 'string', default: '.cumulo-agent' }, driver: { type: 'string', default: 'qemu' },
    bind: { type: 'string', default: '127.0.0.1' }, zone: { type: 'string' },
  } })
  for (const k of ['control-url', 'identity-url', 'image-url', 'user', 'password-file'] as const) {
    if (!values[k]) fail(`compute-agent needs --${k}`)
  }
  if (values.driver !== 'qemu' && values.driver !== 'fake') fail('--driver must be qemu or fake')
  const { ComputeAgent, passwordTokenProvider } = await import('../compute/index.ts')
  const { QemuDriver } = await import('../compute/virt/qemu.ts')
  const { FakeDriver } = await import('../compute/virt/fake.ts')
  const { createLogger } = await import('../core/log.ts')
  const dataDir = resolve(values['data-dir']!)
  const password = readFileSync(values['password-file']!, 'utf8').trim()
  const agent = new ComputeAgent({
    controlUrl: values['control-url']!.replace(/\/v2\.1\/?$/, ''), identityUrl: values['identity-url']!, glanceUrl: values['image-url']!,
    host: values.host ?? hostname(), dataDir, zone: values.zone, bind: { host: values.bind! },
    token: passwordTokenProvider({ identityUrl: values['identity-url']!, userName: values.user!, password, projectName: 'service' }),
    driver: values.driver === 'qemu' ? new QemuDriver({ root: join(dataDir, 'guests') }) : new FakeDriver(),
    log: createLogger({ level: process.env.CUMULO_LOG_LEVEL ?? 'info' }),
  })
  await agent.start()
  process.stdout.write(`compute agent of ${values.host ?? hostname()} is up (console endpoint ${agent.agentUrl})\n`)
  const stop = async () => { await agent.stop(); process.exit(0) }
  process.on('SIGINT', () => void stop())
  process.on('SIGTERM', () => void stop())
}

function alive(pid: number): boolean {
  try { process.kill(pid, 0); return true } catch { return false }
}

async function main(argv: string[]): Promise<void> {
  const [cmd, ...rest] = argv
  switch (cmd) {
    case 'up': return up(rest)
    case 'ring':
      process.exitCode = await ringCommand(rest)
      return
    case 'token-keys': {
      const { values, positionals } = parseArgs({ args: rest, allowPositionals: true,
        options: { 'data-dir': { type: 'string', default: '.cumulo' } } })
      if (positionals[0] !== 'rotate') fail('usage: cumulo token-keys rotate [--data-dir DIR]')
      KeyRepository.open(join(resolve(values['data-dir']!), 'keys', 'token')).rotate()
      process.stdout.write('token keys rotated\n')
      return
    }
    case 'compute-agent': return computeAgent(rest)
    case 'guest': {
      // Builds the test guest into DATA_DIR/guest; the next `cumulo up` imports it as an image.
      const { values } = parseArgs({ args: rest, options: { 'data-dir': { type: 'string', default: '.cumulo' } } })
      const out = join(resolve(values['data-dir']!), 'guest')
      const script = join(import.meta.dirname, '..', '..', 'scripts', 'build-guest.sh')
      const r = spawnSync('bash', [script, out], { stdio: 'inherit' })
      if (r.status !== 0) fail('building the test guest failed (it needs root, apt-get and cpio; see scripts/build-guest.sh)')
      process.stdout.write(`test guest in ${out}: \`cumulo up\` imports it as image "cumulo-guest" (flavor cumulo.tiny)\n`)
      return
    }
    case undefined: case 'help': case '--help': case '-h':
      process.stdout.write(USAGE + '\n'); return
    default:
      fail(`unknown command "${cmd}"\n${USAGE}`)
  }
}

await main(process.argv.slice(2))
