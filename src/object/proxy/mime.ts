// Content-Type from an object's name, for PUTs that send none (Swift calls Python's
// mimetypes.guess_type, which reads the system's /etc/mime.types over a built-in table).
import { readFileSync } from 'node:fs'

/** Python's built-in types for the most common extensions (used when /etc/mime.types is absent). */
const BUILTIN: Record<string, string> = {
  '.txt': 'text/plain', '.text': 'text/plain', '.log': 'text/plain', '.conf': 'text/plain', '.py': 'text/x-python',
  '.c': 'text/plain', '.h': 'text/plain', '.html': 'text/html', '.htm': 'text/html', '.css': 'text/css',
  '.csv': 'text/csv', '.xml': 'text/xml', '.js': 'text/javascript', '.mjs': 'text/javascript', '.md': 'text/markdown',
  '.json': 'application/json', '.pdf': 'application/pdf', '.zip': 'application/zip', '.tar': 'application/x-tar',
  '.gz': 'application/gzip', '.bin': 'application/octet-stream', '.iso': 'application/x-iso9660-image',
  '.sh': 'application/x-sh', '.wasm': 'application/wasm', '.doc': 'application/msword',
  '.xls': 'application/vnd.ms-excel', '.ppt': 'application/vnd.ms-powerpoint',
  '.docx': 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
  '.xlsx': 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
  '.png': 'image/png', '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg', '.gif': 'image/gif', '.svg': 'image/svg+xml',
  '.webp': 'image/webp', '.ico': 'image/vnd.microsoft.icon', '.bmp': 'image/bmp', '.tif': 'image/tiff', '.tiff': 'image/tiff',
  '.mp3': 'audio/mpeg', '.wav': 'audio/x-wav', '.ogg': 'audio/ogg', '.mp4': 'video/mp4', '.mpeg': 'video/mpeg',
  '.webm': 'video/webm', '.avi': 'video/x-msvideo', '.mov': 'video/quicktime', '.qcow2': 'application/octet-stream',
}

/** Compression suffixes Python reports as an encoding, looking through them for the type. */
const ENCODINGS = new Set(['.gz', '.Z', '.bz2', '.xz', '.br'])
/** Python's suffix_map: short forms of compressed tarballs. */
const SUFFIXES: Record<string, string> = { '.tgz': '.tar.gz', '.taz': '.tar.gz', '.tz': '.tar.gz', '.tbz2': '.tar.bz2', '.txz': '.tar.xz' }

let table: Map<string, string> | undefined

/** The extension → type table: the built-ins overlaid by /etc/mime.types (read once). */
function types(): Map<string, string> {
  if (table) return table
  table = new Map(Object.entries(BUILTIN))
  try {
    for (const line of readFileSync('/etc/mime.types', 'utf8').split('\n')) {
      const words = line.replace(/#.*/, '').trim().split(/\s+/)
      if (words.length < 2) continue
      for (const ext of words.slice(1)) table.set('.' + ext, words[0]!)
    }
  } catch { /* no system table: the built-ins serve */ }
  return table
}

/** Python's mimetypes.guess_type(name)[0]: the type of the name's extension, or undefined. */
export function guessType(name: string): string | undefined {
  let base = name.slice(name.lastIndexOf('/') + 1)
  // posixpath.splitext: the last ".ext", leading dots not counting ("..a", ".bashrc" have none).
  const ext = () => {
    const i = base.lastIndexOf('.')
    return i <= 0 || /^\.+$/.test(base.slice(0, i)) ? '' : base.slice(i)
  }
  let e = ext()
  if (SUFFIXES[e]) { base = base.slice(0, -e.length) + SUFFIXES[e]; e = ext() }
  if (ENCODINGS.has(e) || ENCODINGS.has(e.toLowerCase())) {
    base = base.slice(0, -e.length)
    e = ext()
  }
  if (!e) return undefined
  const t = types()
  return t.get(e) ?? t.get(e.toLowerCase())
}
