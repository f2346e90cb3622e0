// `cumulo ring …`: Swift's swift-ring-builder and swift-get-nodes for Cumulo's file formats.
// Exit codes as Swift's: 0 success, 1 warning (nothing to do, or a ring that needs attention),
// 2 error (bad usage, invalid input, unreadable file).
import { existsSync, readFileSync, statSync } from 'node:fs'
import { mkdir } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import { RingBuilder } from './builder.ts'
import { type Dev } from './format.ts'
import { HASH_CONFIG_FILE, hashPath, readHashConfig } from './hash.ts'
import { loadBuilder, loadRing, ringPathFor, saveBuilder, writeRing } from './io.ts'
import type { Ring } from './ring.ts'
import { type DevBalance, MAX_BALANCE, deviceBalances, dispersion, overallBalance } from './stats.ts'

const USAGE = `Usage: cumulo ring <command> ...
  create <builder> <part_power> <replicas> <min_part_hours>
      Start a new builder file (e.g. object.builder.json) with 2^part_power partitions.
  add <builder> r<region>z<zone>-<ip>:<port>/<device>[_<meta>] <weight> [<dev> <weight> ...]
      Add devices (IPv6 addresses in brackets: r1z1-[::1]:6200/sdb).
  remove <builder> <id> [<id> ...]          Mark devices for removal at the next rebalance.
  set-weight <builder> <id> <weight>        Change a device's weight.
  set-min-part-hours <builder> <hours>      Change min_part_hours.
  rebalance <builder> [--seed <seed>] [--force]
      Reassign partitions and write the ring next to the builder (object.ring.json.gz).
  write <builder>                           Rewrite the ring file from the builder.
  pretend-min-part-hours-passed <builder>   Allow every partition to move at the next rebalance.
  show <builder|ring>                       Devices, partitions and balance.
  get-nodes <ring> <hash.json|dir> <account> [<container> [<object>]]
      Partition, hash, primary and handoff devices of a path.`

/** Where command output goes (stdout/stderr by default; tests capture it). */
export interface CliIo {
  out: (line: string) => void
  err: (line: string) => void
}

class UsageError extends Error {}

const EXIT_OK = 0
const EXIT_WARNING = 1
const EXIT_ERROR = 2

/** Runs `cumulo ring <args>`; resolves to the process exit code. */
export async function ringCommand(args: string[], io?: Partial<CliIo>): Promise<number> {
  const out = io?.out ?? ((s: string) => { process.stdout.write(s + '\n') })
  const err = io?.err ?? ((s: string) => { process.stderr.write(s + '\n') })
  const [cmd, ...rest] = args
  if (cmd === 'help' || cmd === '--help' || cmd === '-h') { out(USAGE); return EXIT_OK }
  try {
    switch (cmd) {
      case 'create': return await create(rest, out)
      case 'add': return await add(rest, out)
      case 'remove': return await remove(rest, out)
      case 'set-weight': return await setWeight(rest, out)
      case 'set-min-part-hours': return await setMinPartHours(rest, out)
      case 'rebalance': return await rebalance(rest, out)
      case 'write': return await write(rest, out)
      case 'pretend-min-part-hours-passed': return await pretend(rest, out)
      case 'show': return await show(rest, out)
      case 'get-nodes': return await getNodes(rest, out)
      default: throw new UsageError(cmd ? `unknown command: ${cmd}` : 'missing command')
    }
  } catch (e) {
    if (e instanceof UsageError) err(`cumulo ring: ${e.message}\n${USAGE}`)
    else err(`cumulo ring: ${(e as Error).message}`)
    return EXIT_ERROR
  }
}

function want(args: string[], min: number, max: number, what: string): void {
  if (args.length < min || args.length > max) throw new UsageError(`${what}: wrong number of arguments`)
}

function int(s: string, what: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  if (!/^\d+$/.test(s) || Number(s) < min || Number(s) > max) throw new UsageError(`${what} must be an integer in ${min}..${max}: ${s}`)
  return Number(s)
}

function num(s: string, what: string): number {
  if (!/^(\d+\.?\d*|\.\d+)$/.test(s)) throw new UsageError(`${what} must be a non-negative number: ${s}`)
  return Number(s)
}

function devId(s: string): number {
  return int(s.replace(/^d/, ''), 'device id', 0, 0xfffe)
}

/** Parses Swift's device notation `[r<region>]z<zone>-<ip>:<port>/<device>[_<meta>]`. */
export function parseDevSpec(s: string): { region: number; zone: number; ip: string; port: number; device: string; meta: string } {
  const m = /^(?:r(\d+))?z(\d+)-(\[[0-9a-fA-F:.]+\]|[^:/[\]\s]+):(\d+)\/([^_/\s]+)(?:_(.*))?$/.exec(s)
  if (!m) throw new UsageError(`bad device "${s}": expected r<region>z<zone>-<ip>:<port>/<device>[_<meta>]`)
  return { region: Number(m[1] ?? 1), zone: Number(m[2]), ip: m[3].replace(/^\[|\]$/g, ''),
    port: int(m[4], 'port', 1, 65535), device: m[5], meta: m[6] ?? '' }
}

const fmtDev = (d: Dev) => `${d.ip.includes(':') ? `[${d.ip}]` : d.ip}:${d.port}/${d.device}`

async function create(args: string[], out: CliIo['out']): Promise<number> {
  want(args, 4, 4, 'create')
  const [file, pp, reps, mph] = args
  if (existsSync(file)) throw new Error(`${file} already exists; remove it first to start over`)
  const b = RingBuilder.create(int(pp, 'part_power', 0, 24), num(reps, 'replicas'), int(mph, 'min_part_hours', 0, 255))
  await mkdir(dirname(file), { recursive: true })
  await saveBuilder(b, file)
  out(`Created ${file}: ${b.parts} partitions, ${b.replicas} replicas, min_part_hours ${b.minPartHours}`)
  return EXIT_OK
}

async function add(args: string[], out: CliIo['out']): Promise<number> {
  if (args.length < 3 || (args.length - 1) % 2 !== 0) throw new UsageError('add: expected <builder> followed by <dev> <weight> pairs')
  const b = await loadBuilder(args[0])
  const added: number[] = []
  for (let i = 1; i < args.length; i += 2) {
    const spec = parseDevSpec(args[i])
    added.push(b.addDev({ ...spec, weight: num(args[i + 1], 'weight') }))
  }
  await saveBuilder(b, args[0])
  for (const id of added) {
    const d = b.devs[id]!
    out(`Device d${id}r${d.region}z${d.zone}-${fmtDev(d)}_"${d.meta}" with ${d.weight} weight got id ${id}`)
  }
  return EXIT_OK
}

async function remove(args: string[], out: CliIo['out']): Promise<number> {
  if (args.length < 2) throw new UsageError('remove: expected <builder> <id> [<id> ...]')
  const b = await loadBuilder(args[0])
  for (const s of args.slice(1)) {
    const id = devId(s)
    const d = b.devs[id]
    b.removeDev(id)
    out(`d${id} ${fmtDev(d!)} marked for removal and will be removed next rebalance.`)
  }
  await saveBuilder(b, args[0])
  return EXIT_OK
}

async function setWeight(args: string[], out: CliIo['out']): Promise<number> {
  want(args, 3, 3, 'set-weight')
  const b = await loadBuilder(args[0])
  const id = devId(args[1])
  b.setWeight(id, num(args[2], 'weight'))
  await saveBuilder(b, args[0])
  out(`d${id} ${fmtDev(b.devs[id]!)} weight set to ${b.devs[id]!.weight}`)
  return EXIT_OK
}

async function setMinPartHours(args: string[], out: CliIo['out']): Promise<number> {
  want(args, 2, 2, 'set-min-part-hours')
  const b = await loadBuilder(args[0])
  b.setMinPartHours(int(args[1], 'min_part_hours', 0, 255))
  await saveBuilder(b, args[0])
  out(`The minimum number of hours before a partition can be reassigned is now set to ${b.minPartHours}`)
  return EXIT_OK
}

async function pretend(args: string[], out: CliIo['out']): Promise<number> {
  want(args, 1, 1, 'pretend-min-part-hours-passed')
  const b = await loadBuilder(args[0])
  b.pretendMinPartHoursPassed()
  await saveBuilder(b, args[0])
  out('Every partition may be reassigned at the next rebalance.')
  return EXIT_OK
}

/** Keeps a timestamped copy of each builder and ring a rebalance writes, as Swift does. */
async function backup(b: RingBuilder, file: string, ringFile: string): Promise<void> {
  const dir = join(dirname(file), 'backups')
  await mkdir(dir, { recursive: true })
  const ts = Math.floor(Date.now() / 1000)
  await writeRing(b.getRingData(), join(dir, `${ts}.${basename(ringFile)}`))
  await saveBuilder(b, join(dir, `${ts}.${basename(file)}`))
}

async function rebalance(args: string[], out: CliIo['out']): Promise<number> {
  let seed: string | undefined
  let force = false
  const pos: string[] = []
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--force' || args[i] === '-f') force = true
    else if (args[i] === '--seed' || args[i] === '-s') {
      if (i + 1 >= args.length) throw new UsageError('--seed needs a value')
      seed = args[++i]
    } else pos.push(args[i])
  }
  want(pos, 1, 1, 'rebalance')
  const file = pos[0]
  const b = await loadBuilder(file)
  const before = b.everRebalanced ? { balance: b.getBalance(), dispersion: b.getDispersion() } : undefined
  const devsChanged = b.devsChanged
  const secondsLeft = b.minPartSecondsLeft()
  const res = b.rebalance({ seed: seed === undefined ? undefined : /^\d+$/.test(seed) ? Number(seed) : seed })
  if (!force && res.moved === 0 && res.removed === 0) {
    out('No partitions could be reassigned.')
    out(secondsLeft > 0
      ? `The time between rebalances must be at least min_part_hours: ${b.minPartHours} hours (${secondsLeft} seconds remaining)`
      : 'There is no need to do so at this time')
    return EXIT_WARNING
  }
  if (!force && !devsChanged && before && Math.abs(before.balance - res.balance) < 1 &&
      !(before.balance === MAX_BALANCE && res.balance === MAX_BALANCE) &&
      Math.abs(before.dispersion - res.dispersion) < 1) {
    out('Cowardly refusing to save rebalance as it did not change at least 1%.')
    return EXIT_WARNING
  }
  const ringFile = ringPathFor(file)
  await backup(b, file, ringFile)
  await writeRing(b.getRingData(), ringFile)
  await saveBuilder(b, file)
  const slots = b.getTables().reduce((n, t) => n + t.length, 0)
  out(`Reassigned ${res.moved} (${((100 * res.moved) / slots).toFixed(2)}%) partition replicas. ` +
    `Balance is now ${res.balance.toFixed(2)}.  Dispersion is now ${res.dispersion.toFixed(2)}`)
  out(`Wrote ${ringFile}`)
  let status = EXIT_OK
  for (const w of res.warnings) { out(`NOTE: ${w}`); status = EXIT_WARNING }
  if (res.dispersion > 0) {
    out(`NOTE: Dispersion of ${res.dispersion.toFixed(6)} indicates some partitions are not optimally dispersed.`)
    status = EXIT_WARNING
  } else if (res.balance > 5) {
    out(`NOTE: Balance of ${res.balance.toFixed(2)} indicates you should push this ring, wait at least ` +
      `${b.minPartHours} hours, and rebalance/repush.`)
    status = EXIT_WARNING
  }
  return status
}

async function write(args: string[], out: CliIo['out']): Promise<number> {
  want(args, 1, 1, 'write')
  const b = await loadBuilder(args[0])
  const ringFile = ringPathFor(args[0])
  await writeRing(b.getRingData(), ringFile)
  out(`Wrote ${ringFile}`)
  return EXIT_OK
}

function isRingFile(path: string): boolean {
  const head = readFileSync(path).subarray(0, 2)
  return head[0] === 0x1f && head[1] === 0x8b
}

/** The devices table shared by `show` for builders and rings. */
function deviceTable(devs: (Dev | null)[], balances: DevBalance[], removing: Set<number>, out: CliIo['out']): void {
  const byId = new Map(balances.map((b) => [b.id, b]))
  const rows = devs.filter((d): d is Dev => d !== null)
    .sort((a, b) => a.region - b.region || a.zone - b.zone || a.ip.localeCompare(b.ip) || a.port - b.port || a.device.localeCompare(b.device))
    .map((d) => [String(d.id), String(d.region), String(d.zone), `${d.ip.includes(':') ? `[${d.ip}]` : d.ip}:${d.port}`,
      d.device, d.weight.toFixed(2), String(byId.get(d.id)?.parts ?? 0), (byId.get(d.id)?.balance ?? 0).toFixed(2),
      d.meta, removing.has(d.id) ? 'DEL' : ''])
  const head = ['id', 'region', 'zone', 'ip:port', 'device', 'weight', 'partitions', 'balance', 'meta', 'flags']
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)))
  const line = (r: string[]) => r.map((c, i) => (i < 3 || (i >= 5 && i <= 7) ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ').trimEnd()
  out('Devices:')
  out(line(head))
  for (const r of rows) out(line(r))
}

function summary(devs: (Dev | null)[], parts: number, replicas: number, balance: number, disp: number | undefined): string {
  const live = devs.filter((d): d is Dev => d !== null)
  const regions = new Set(live.map((d) => d.region)).size
  const zones = new Set(live.map((d) => `${d.region}/${d.zone}`)).size
  return `${parts} partitions, ${replicas.toFixed(6)} replicas, ${regions} regions, ${zones} zones, ` +
    `${live.length} devices, ${balance.toFixed(2)} balance` + (disp === undefined ? '' : `, ${disp.toFixed(2)} dispersion`)
}

async function show(args: string[], out: CliIo['out']): Promise<number> {
  want(args, 1, 1, 'show')
  const file = args[0]
  if (isRingFile(file)) {
    const ring = await loadRing(file, { autoReload: false })
    const bal = deviceBalances(ring.devs, ring.replica2part2dev)
    out(`${file}, build version ${ring.version}`)
    out(summary(ring.devs, ring.partitionCount, ring.replicas, overallBalance(bal), dispersion(ring.devs, ring.replica2part2dev)))
    deviceTable(ring.devs, bal, new Set(), out)
    return EXIT_OK
  }
  const b = await loadBuilder(file)
  const tables = b.getTables()
  const bal = deviceBalances(b.devs, tables)
  out(`${file}, build version ${b.version}`)
  out(summary(b.devs, b.parts, b.replicas, b.getBalance(), b.everRebalanced ? b.getDispersion() : undefined))
  out(`The minimum number of hours before a partition can be reassigned is ${b.minPartHours} ` +
    `(${b.minPartSecondsLeft()} seconds remaining)`)
  const ringFile = ringPathFor(file)
  if (!existsSync(ringFile)) out(`Ring file ${ringFile} not found, probably it hasn't been written yet`)
  else if (b.everRebalanced) {
    try {
      const ring = await loadRing(ringFile, { autoReload: false })
      const same = ring.version === b.version && JSON.stringify(ring.devs) === JSON.stringify(b.devs) &&
        ring.replica2part2dev.every((t, r) => Buffer.compare(Buffer.from(t.buffer, t.byteOffset, t.byteLength),
          Buffer.from(tables[r].buffer, tables[r].byteOffset, tables[r].byteLength)) === 0)
      out(`Ring file ${ringFile} is ${same ? 'up-to-date' : 'obsolete'}`)
    } catch (e) {
      out(`Ring file ${ringFile} is invalid: ${(e as Error).message}`)
    }
  }
  if (!b.everRebalanced) out('The builder has not been rebalanced yet.')
  deviceTable(b.devs, bal, new Set(b.pendingRemoval), out)
  return EXIT_OK
}

async function getNodes(args: string[], out: CliIo['out']): Promise<number> {
  want(args, 3, 5, 'get-nodes')
  const [ringFile, hashFile, account, container, object] = args
  const ring: Ring = await loadRing(ringFile, { autoReload: false })
  const hashCfg = readHashConfig(statSync(hashFile).isDirectory() ? join(hashFile, HASH_CONFIG_FILE) : hashFile)
  const { partition, nodes } = ring.getNodes(hashCfg, account, container, object)
  out(`Account    ${account}`)
  if (container) out(`Container  ${container}`)
  if (object) out(`Object     ${object}`)
  out(`Partition  ${partition}`)
  out(`Hash       ${hashPath(hashCfg, account, container, object)}`)
  out('')
  const row = (d: Dev, tag: string) => `  d${d.id}  r${d.region}z${d.zone}  ${fmtDev(d)}${tag}`
  out('Primary nodes:')
  for (const d of nodes) out(row(d, ''))
  out('Handoff nodes:')
  for (const d of ring.getMoreNodes(partition)) out(row(d, '  [Handoff]'))
  return EXIT_OK
}
