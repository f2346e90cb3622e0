// Files: the builder (`*.builder.json`, the operator's source of truth) and the ring it writes
// (`*.ring.json.gz`, what every node loads). Both are replaced atomically — temp file, fsync,
// rename, fsync of the directory — so a reader or a crash never sees half a file.
import { randomBytes } from 'node:crypto'
import { readFile, open, rename, unlink } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import { RingBuilder } from './builder.ts'
import { type RingData, encodeRing } from './format.ts'
import { Ring, type RingOptions } from './ring.ts'

/** Writes `data` to `path` atomically and durably. */
export async function writeFileAtomic(path: string, data: Buffer | string, mode = 0o644): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`)
  const fh = await open(tmp, 'wx', mode)
  try {
    await fh.writeFile(data)
    await fh.sync()
  } catch (err) {
    await fh.close()
    await unlink(tmp).catch(() => {})
    throw err
  }
  await fh.close()
  try {
    await rename(tmp, path)
  } catch (err) {
    await unlink(tmp).catch(() => {})
    throw err
  }
  const dir = await open(dirname(path), 'r')
  try { await dir.sync() } finally { await dir.close() }
}

/** Saves a builder as JSON. */
export async function saveBuilder(builder: RingBuilder, path: string): Promise<void> {
  await writeFileAtomic(path, JSON.stringify(builder.toJSON()) + '\n')
}

/** Loads a builder saved by saveBuilder. */
export async function loadBuilder(path: string): Promise<RingBuilder> {
  const text = await readFile(path, 'utf8')
  let raw: unknown
  try {
    raw = JSON.parse(text)
  } catch {
    throw new Error(`${path}: not valid JSON`)
  }
  return RingBuilder.fromJSON(raw, path)
}

/** Writes a ring (or ring data, e.g. builder.getRingData()) as a gzip JSON ring file. */
export async function writeRing(ring: Ring | RingData, path: string): Promise<void> {
  const data: RingData = ring instanceof Ring
    ? { partPower: ring.partPower, devs: ring.devs, replica2part2dev: ring.replica2part2dev, version: ring.version }
    : ring
  await writeFileAtomic(path, encodeRing(data))
}

/** Loads a ring file; with a path attached it can reload itself when the file changes. */
export function loadRing(path: string, opts: Omit<RingOptions, 'path'> = {}): Promise<Ring> {
  return Ring.load(path, opts)
}

/** Loads a ring file synchronously (start-up code). */
export function loadRingSync(path: string, opts: Omit<RingOptions, 'path'> = {}): Ring {
  return Ring.loadSync(path, opts)
}

/** The ring file a builder writes: `object.builder.json` → `object.ring.json.gz`. */
export function ringPathFor(builderPath: string): string {
  const base = builderPath.replace(/\.json$/, '').replace(/\.builder$/, '')
  return base + '.ring.json.gz'
}
