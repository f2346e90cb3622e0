import { createHash } from 'node:crypto'
import { mkdirSync } from 'node:fs'
import { mkdir, readFile, readdir, rename, rm, rmdir, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { MAX_SOCKET_PATH } from './metadata-server.ts'

// The agent's own files for each instance, under <dataDir>/instances/<uuid>/ (the driver keeps
// its disks elsewhere): the metadata socket and the record of the one-shot ops already run,
// which must outlive an agent restart so that an op whose result was recorded is reported
// again instead of being run twice.

/** An op the agent ran, with its result (re-reported, not re-run, after a restart). */
export interface DoneOp { id: string; result: 'ok' | 'error'; message?: string }

interface StateFile { doneOps: DoneOp[] }

/** How many done ops an instance remembers (op ids are fresh per op; old ones never come back). */
const KEEP_OPS = 50

/** Paths and persisted state of the agent's instance directories. */
export class InstanceFiles {
  constructor(readonly root: string) {}

  dir(uuid: string): string { return join(this.root, uuid) }
  /**
   * The Unix socket the instance's metadata server listens on: in its directory, or — when that
   * path would not fit a socket address (sun_path is 108 bytes; a data dir under a long
   * temporary path is enough) — in a short private directory of this agent under the system's
   * temporary directory.
   */
  metadataSocket(uuid: string): string {
    const inDir = join(this.dir(uuid), 'md.sock')
    return Buffer.byteLength(inDir) <= MAX_SOCKET_PATH ? inDir : join(this.#shortDir(), `${uuid}.sock`)
  }

  /** /tmp/cumulo-md-<hash of the root>, mode 0700: one per agent, so agents never share sockets. */
  #shortDir(): string {
    const name = `cumulo-md-${createHash('sha256').update(this.root).digest('hex').slice(0, 12)}`
    const base = Buffer.byteLength(join(tmpdir(), name)) + 42 <= MAX_SOCKET_PATH ? tmpdir() : '/tmp'
    const dir = join(base, name)
    mkdirSync(dir, { recursive: true, mode: 0o700 })
    return dir
  }

  async ensureDir(uuid: string): Promise<string> {
    const d = this.dir(uuid)
    await mkdir(d, { recursive: true })
    return d
  }

  /** The recorded result of op `id`, if it ran already. */
  async doneOp(uuid: string, id: string): Promise<DoneOp | undefined> {
    return (await this.#read(uuid)).doneOps.find((o) => o.id === id)
  }

  /** Records that op `op.id` ran (written to a temporary file then renamed: never half there). */
  async recordOp(uuid: string, op: DoneOp): Promise<void> {
    const s = await this.#read(uuid)
    s.doneOps = [...s.doneOps.filter((o) => o.id !== op.id), op].slice(-KEEP_OPS)
    const d = await this.ensureDir(uuid)
    const tmp = join(d, 'state.json.tmp')
    await writeFile(tmp, JSON.stringify(s))
    await rename(tmp, join(d, 'state.json'))
  }

  /** Removes everything the agent kept for the instance. */
  async remove(uuid: string): Promise<void> {
    const socket = this.metadataSocket(uuid)
    await rm(socket, { force: true })
    // The short socket directory goes with its last socket.
    if (dirname(socket) !== this.dir(uuid)) await rmdir(dirname(socket)).catch(() => {})
    await rm(this.dir(uuid), { recursive: true, force: true })
  }

  /** The instances that have a directory. */
  async list(): Promise<string[]> {
    return (await readdir(this.root, { withFileTypes: true }).catch(() => []))
      .filter((e) => e.isDirectory()).map((e) => e.name)
  }

  async #read(uuid: string): Promise<StateFile> {
    try {
      const s = JSON.parse(await readFile(join(this.dir(uuid), 'state.json'), 'utf8')) as StateFile
      return { doneOps: Array.isArray(s.doneOps) ? s.doneOps : [] }
    } catch {
      return { doneOps: [] }
    }
  }
}
