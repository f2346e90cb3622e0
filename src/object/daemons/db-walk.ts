// Finding the account or container DBs of local devices:
// <device>/<accounts|containers>/<partition>/<suffix>/<hash>/<hash>.db (Swift's storage_directory).
import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import type { Dev } from '../ring/ring.ts'

/** One DB file on a local device. */
export interface DbFile { dev: Dev; partition: string; hash: string; path: string }

async function listDir(path: string): Promise<string[]> {
  try { return await readdir(path) } catch { return [] }
}

/** Every DB of `datadir` ('containers' or 'accounts') on the given devices. Temp files are skipped. */
export async function listDbs(devicesRoot: string, devs: readonly Dev[], datadir: string): Promise<DbFile[]> {
  const out: DbFile[] = []
  for (const dev of devs) {
    const root = join(devicesRoot, dev.device, datadir)
    for (const partition of await listDir(root)) {
      if (!/^\d+$/.test(partition)) continue
      for (const suffix of await listDir(join(root, partition))) {
        for (const hash of await listDir(join(root, partition, suffix))) {
          const dir = join(root, partition, suffix, hash)
          if ((await listDir(dir)).includes(`${hash}.db`)) out.push({ dev, partition, hash, path: join(dir, `${hash}.db`) })
        }
      }
    }
  }
  return out
}
