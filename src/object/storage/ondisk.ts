// Which files in an object's hash directory count (Swift's get_ondisk_files for the replication
// policy). A hash dir may briefly hold several generations (a PUT racing a DELETE, a replicated
// .meta arriving before its .data); the newest tombstone or data file decides, and everything
// it supersedes is obsolete and removed by the next cleanup.
import { Timestamp, decodeTimestamps, encodeTimestamps } from '../ring/timestamp.ts'

/** File extensions an object directory holds. */
export type FileExt = '.data' | '.ts' | '.meta'

/** A parsed object file name: `<timestamp>.data`, `<timestamp>.ts`, `<timestamp>[±<ctype delta>].meta`. */
export interface FileInfo {
  filename: string
  ext: FileExt
  timestamp: Timestamp
  /** For a .meta carrying a Content-Type: when that Content-Type was set (Swift encodes it in the name). */
  ctypeTimestamp?: Timestamp
}

/** The outcome of looking at one hash directory. */
export interface FileSet {
  /** The object body and its metadata, when the object exists. */
  data?: FileInfo
  /** Newest fast-POST metadata (only with `data`). */
  meta?: FileInfo
  /** A second .meta holding a newer Content-Type than `meta` (only with `data`). */
  ctype?: FileInfo
  /** The tombstone, when the object is deleted. */
  ts?: FileInfo
  /** Superseded files: safe to remove now. */
  obsolete: FileInfo[]
  /** .meta files without any .data: removed once older than the reclaim age. */
  possibleReclaim: FileInfo[]
  /** Names that are not object files (e.g. stray temp files); left alone. */
  unexpected: string[]
}

const EXTS: readonly FileExt[] = ['.data', '.ts', '.meta']

/** Parses an object file name, or null when it is not one. */
export function parseFilename(filename: string): FileInfo | null {
  const dot = filename.lastIndexOf('.')
  if (dot <= 0) return null
  const ext = filename.slice(dot) as FileExt
  if (!EXTS.includes(ext)) return null
  const stem = filename.slice(0, dot)
  try {
    if (ext === '.meta') {
      const [t, ctype] = decodeTimestamps(stem, true)
      return { filename, ext, timestamp: t, ctypeTimestamp: ctype }
    }
    if (!/^[0-9.]+(_[0-9a-f]+)?$/.test(stem)) return null
    return { filename, ext, timestamp: new Timestamp(stem) }
  } catch {
    return null
  }
}

/** The file name for a timestamp; a .meta with a Content-Type also encodes when it was set. */
export function makeFilename(timestamp: Timestamp, ext: FileExt, ctypeTimestamp?: Timestamp): string {
  if (ext === '.meta' && ctypeTimestamp) return encodeTimestamps(timestamp, ctypeTimestamp, undefined, true) + ext
  return timestamp.internal + ext
}

const newestFirst = (a: FileInfo, b: FileInfo) => b.timestamp.compare(a.timestamp)
const ctypeOrZero = (f: FileInfo) => f.ctypeTimestamp ?? ZERO
const ZERO = Timestamp.zero()

/** Splits a newest-first list into the items passing `keep` (a prefix) and the rest. */
function splitWhile(list: FileInfo[], keep: (f: FileInfo) => boolean): [FileInfo[], FileInfo[]] {
  const i = list.findIndex((f) => !keep(f))
  return i < 0 ? [list, []] : [list.slice(0, i), list.slice(i)]
}

/** Decides the state of an object from its file names (replication policy). */
export function classifyFiles(files: readonly string[]): FileSet {
  const out: FileSet = { obsolete: [], possibleReclaim: [], unexpected: [] }
  const by: Record<FileExt, FileInfo[]> = { '.data': [], '.ts': [], '.meta': [] }
  for (const name of files) {
    const info = parseFilename(name)
    if (info) by[info.ext].push(info)
    else out.unexpected.push(name)
  }
  by['.data'].sort(newestFirst)
  by['.ts'].sort(newestFirst)
  by['.meta'].sort(newestFirst)

  if (by['.ts'].length) {
    // Anything not newer than the newest tombstone is dead, and so are older tombstones.
    const tsTime = by['.ts'][0].timestamp
    for (const ext of ['.data', '.meta'] as const) {
      const [keep, older] = splitWhile(by[ext], (f) => f.timestamp.compare(tsTime) > 0)
      by[ext] = keep
      out.obsolete.push(...older)
    }
    out.obsolete.push(...by['.ts'].slice(1))
    by['.ts'] = by['.ts'].slice(0, 1)
  }

  const metas = by['.meta']
  if (metas.length) {
    // Keep the newest .meta, plus an older one only if it carries a newer Content-Type.
    let retain = 1
    if (metas.length > 1) {
      const rest = metas.slice(1).sort((a, b) => ctypeOrZero(b).compare(ctypeOrZero(a)))
      metas.splice(1, rest.length, ...rest)
      if (ctypeOrZero(metas[1]).compare(ctypeOrZero(metas[0])) > 0) {
        if (metas[1].timestamp.compare(metas[0].timestamp) === 0) {
          ;[metas[0], metas[1]] = [metas[1], metas[0]]
        } else {
          retain = 2
        }
      }
    }
    out.obsolete.push(...metas.slice(retain))
    by['.meta'] = metas.slice(0, retain)
  }

  if (by['.data'].length) {
    const dataTime = by['.data'][0].timestamp
    out.obsolete.push(...by['.data'].slice(1))
    for (const ext of ['.ts', '.meta'] as const) {
      const [keep, older] = splitWhile(by[ext], (f) => f.timestamp.compare(dataTime) > 0)
      by[ext] = keep
      out.obsolete.push(...older)
    }
    out.data = by['.data'][0]
    if (by['.meta'].length) {
      out.meta = by['.meta'][0]
      const last = by['.meta'][by['.meta'].length - 1]
      if (last.ctypeTimestamp && last.ctypeTimestamp.compare(dataTime) > 0) out.ctype = last
    }
  } else {
    out.possibleReclaim.push(...by['.meta'])
    if (by['.ts'].length) out.ts = by['.ts'][0]
  }
  return out
}

/** The files that stay in the directory after cleanup, newest first (what replication copies). */
export function liveFiles(set: FileSet): FileInfo[] {
  const live = [set.data, set.meta, set.ctype, set.ts].filter((f): f is FileInfo => f !== undefined)
  return [...new Set(live)].sort(newestFirst)
}
