// CPU time of server processes, read from /proc/<pid>/stat (utime + stime: every thread of the
// process, libuv's pool included), so a benchmark can report server CPU per operation whether
// it started the server itself or was given the pids of one (Swift runs several processes).
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'

let ticksPerSecond: number | undefined

/** Clock ticks per second of /proc times (sysconf(_SC_CLK_TCK), 100 almost everywhere). */
function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    try { ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100 } catch { ticksPerSecond = 100 }
  }
  return ticksPerSecond
}

/** User + system CPU milliseconds one process has used so far. */
export function processCpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  // The command name (field 2) may hold spaces and parentheses: count fields after its last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  // After the name: state(3) ppid(4) … utime is field 14, stime field 15 → indexes 11 and 12 here.
  return ((Number(fields[11]) + Number(fields[12])) / clockTicks()) * 1000
}

/** Sums CPU over several pids (absent when none were given, or /proc cannot be read). */
export class CpuMeter {
  constructor(private readonly pids: readonly number[]) {}

  /** Total CPU ms of the watched processes now, or undefined when not measurable. */
  sample(): number | undefined {
    if (!this.pids.length) return undefined
    try {
      let ms = 0
      for (const p of this.pids) ms += processCpuMs(p)
      return ms
    } catch { return undefined }
  }
}
