// Account and container listings rendered byte for byte as Swift renders them
// (swift/common/middleware/listing_formats.py, container/server.py, account/utils.py), so a
// proxy can pass them through or re-render JSON it received: JSON as Python's json.dumps
// (", "/": " separators, non-ASCII as \uXXXX), XML as ElementTree writes it, plain text as one
// name per line. Also the choice of format from ?format= and Accept, as swob does it.
import { DbError } from './db-broker.ts'
import { extractSwiftBytes } from './container-rows.ts'
import { parseTs } from './db-timestamp.ts'

/** The content types a listing can be rendered as. */
export type ListingContentType = 'text/plain' | 'application/json' | 'application/xml' | 'text/xml'

/** A collapsed run of names under a delimiter. */
export interface SubdirEntry { subdir: string }

/** An object in a container listing, with Swift's key order. */
export interface ObjectEntry { bytes: number; hash: string; name: string; content_type: string; last_modified: string }

/** A container in an account listing, with Swift's key order. */
export interface ContainerEntry { name: string; count: number; bytes: number; last_modified: string; storage_policy?: string }

const FORMATS: Record<string, ListingContentType> = {
  plain: 'text/plain', json: 'application/json', xml: 'application/xml',
}
const OFFERED: ListingContentType[] = ['text/plain', 'application/json', 'application/xml', 'text/xml']
const TOKEN = String.raw`[^()<>@,;:"/\[\]?={}\x00-\x20\x7f]+`
const ACCEPT_RE = new RegExp(String.raw`^\s*(${TOKEN})/(${TOKEN})((?:\s*;\s*(?:${TOKEN})\s*=\s*(?:${TOKEN}|"(?:[^"\\]|\\.)*"))*?\s*)$`)
const PY_FLOAT = /^\s*[+-]?((\d+\.?\d*|\.\d+)([eE][+-]?\d+)?|inf|infinity|nan)\s*$/i

/**
 * The listing's content type (Swift's get_listing_content_type): `format` (plain/json/xml)
 * overrides Accept; Accept's best match among text/plain, application/json, application/xml,
 * text/xml. DbError 400 for a malformed Accept, 406 when nothing offered is acceptable.
 */
export function listingContentType(query: URLSearchParams, accept?: string): ListingContentType {
  const format = query.get('format')
  if (format) accept = FORMATS[format.toLowerCase()] ?? 'text/plain'
  if (!accept) return OFFERED[0]!
  const types: Array<{ re: RegExp; q: number; exact: boolean }> = []
  for (const part of accept.split(',')) {
    const m = ACCEPT_RE.exec(part)
    if (!m) throw new DbError(400, 'Invalid Accept header')
    const [, type, subtype, params] = m as unknown as [string, string, string, string]
    let q = 1
    let seenQ = false
    for (const raw of params.split(';')) {
      const parm = raw.trim()
      if (!parm) continue
      const kv = parm.split('=')
      if (kv.length !== 2) throw new DbError(400, 'Invalid Accept header')
      if (kv[0]!.trim() === 'q') {
        if (seenQ || !PY_FLOAT.test(kv[1]!)) throw new DbError(400, 'Invalid Accept header')
        seenQ = true
        q = Number(kv[1]!.trim().toLowerCase().replace(/^([+-]?)inf(inity)?$/, '$1Infinity'))
      }
    }
    const pat = (s: string) => (s === '*' ? TOKEN : s.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&'))
    types.push({ re: new RegExp(`^${pat(type)}/${pat(subtype)}$`), q, exact: type !== '*' && subtype !== '*' })
  }
  // By quality, then exact types before wildcards; the sort is stable, as Python's.
  types.sort((a, b) => (b.q - a.q) || (Number(b.exact) - Number(a.exact)))
  for (const t of types) for (const option of OFFERED) if (t.re.test(option)) return option
  throw new DbError(406, 'Not Acceptable')
}

const PY_SAFE = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/

/** A string as Python's json.dumps writes it (ensure_ascii). */
export function pyJsonString(s: string): string {
  if (PY_SAFE.test(s)) return '"' + s + '"'
  return JSON.stringify(s).replace(/[\u007f-\uffff]/g, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'))
}

/** Python's json.dumps of JSON data: `[{"a": 1, "b": "x"}]` spacing, ASCII only. */
export function pyJsonDumps(v: unknown): string {
  if (v === null || v === undefined) return 'null'
  if (typeof v === 'string') return pyJsonString(v)
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : JSON.stringify(v)
  if (typeof v === 'boolean') return v ? 'true' : 'false'
  if (Array.isArray(v)) return '[' + v.map(pyJsonDumps).join(', ') + ']'
  return '{' + Object.entries(v as Record<string, unknown>)
    .map(([k, x]) => pyJsonString(k) + ': ' + pyJsonDumps(x)).join(', ') + '}'
}

/** A container DB row as a listing entry (Swift's update_object_record: swift_bytes overrides bytes). */
export function objectEntry(row: { name: string; created_at: string; size: number; content_type: string; etag: string }):
  ObjectEntry {
  const [contentType, swiftBytes] = extractSwiftBytes(row.content_type)
  let bytes = row.size
  // Python's int() of the parameter; a bad value leaves the size as it was.
  if (swiftBytes !== undefined && /^\s*[+-]?\d+\s*$/.test(swiftBytes)) bytes = Number(swiftBytes)
  return { bytes, hash: row.etag, name: row.name, content_type: contentType,
    last_modified: parseTs(row.created_at).isoformat }
}

/** An account DB row as a listing entry; `policyName` is the policy's name if it is known. */
export function containerEntry(row: { name: string; object_count: number; bytes_used: number; put_timestamp: string },
                               policyName?: string): ContainerEntry {
  const e: ContainerEntry = { name: row.name, count: row.object_count, bytes: row.bytes_used,
    last_modified: parseTs(row.put_timestamp).isoformat }
  if (policyName !== undefined) e.storage_policy = policyName
  return e
}

const XML_DECL = '<?xml version="1.0" encoding="UTF-8"?>\n'

function xmlText(s: string): string {
  return /[&<>]/.test(s) ? s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;') : s
}

function xmlAttr(s: string): string {
  if (!/[&<>"\r\n\t]/.test(s)) return s
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')
    .replace(/\r/g, '&#13;').replace(/\n/g, '&#10;').replace(/\t/g, '&#09;')
}

/** ElementTree writes an element with no text and no children as `<tag />`. */
function xmlLeaf(tag: string, text: string): string {
  return text === '' ? `<${tag} />` : `<${tag}>${xmlText(text)}</${tag}>`
}

/** Swift's container_to_xml. */
export function containerToXml(listing: Array<ObjectEntry | SubdirEntry>, containerName: string): string {
  if (listing.length === 0) return `${XML_DECL}<container name="${xmlAttr(containerName)}" />`
  const parts = [`${XML_DECL}<container name="${xmlAttr(containerName)}">`]
  for (const e of listing) {
    if ('subdir' in e) {
      parts.push(`<subdir name="${xmlAttr(e.subdir)}">${xmlLeaf('name', e.subdir)}</subdir>`)
    } else {
      parts.push('<object>', xmlLeaf('name', e.name), xmlLeaf('hash', String(e.hash)), xmlLeaf('bytes', String(e.bytes)),
        xmlLeaf('content_type', String(e.content_type)), xmlLeaf('last_modified', String(e.last_modified)), '</object>')
    }
  }
  parts.push('</container>')
  return parts.join('')
}

/** Swift's account_to_xml (one entry per line, unlike the container's). */
export function accountToXml(listing: Array<ContainerEntry | SubdirEntry>, accountName: string): string {
  const parts = [`${XML_DECL}<account name="${xmlAttr(accountName)}">\n`]
  for (const e of listing) {
    if ('subdir' in e) {
      parts.push(`<subdir name="${xmlAttr(e.subdir)}" />\n`)
    } else {
      parts.push('<container>', xmlLeaf('name', e.name), xmlLeaf('count', String(e.count)),
        xmlLeaf('bytes', String(e.bytes)), xmlLeaf('last_modified', String(e.last_modified)))
      if (e.storage_policy !== undefined) parts.push(xmlLeaf('storage_policy', String(e.storage_policy)))
      parts.push('</container>\n')
    }
  }
  parts.push('</account>')
  return parts.join('')
}

/** Swift's listing_to_text: each name (or subdir) and a newline; empty for an empty listing. */
export function listingToText(listing: Array<{ name: string } | SubdirEntry>): string {
  let out = ''
  for (const e of listing) out += ('name' in e ? e.name : e.subdir) + '\n'
  return out
}

/** Renders a container listing in the chosen content type. */
export function renderContainerListing(listing: Array<ObjectEntry | SubdirEntry>, containerName: string,
                                       type: ListingContentType): Buffer {
  if (type.endsWith('/xml')) return Buffer.from(containerToXml(listing, containerName), 'utf8')
  if (type === 'application/json') return Buffer.from(pyJsonDumps(listing), 'latin1') // ASCII only
  return Buffer.from(listingToText(listing), 'utf8')
}

/** Renders an account listing in the chosen content type. */
export function renderAccountListing(listing: Array<ContainerEntry | SubdirEntry>, accountName: string,
                                     type: ListingContentType): Buffer {
  if (type.endsWith('/xml')) return Buffer.from(accountToXml(listing, accountName), 'utf8')
  if (type === 'application/json') return Buffer.from(pyJsonDumps(listing), 'latin1')
  return Buffer.from(listingToText(listing), 'utf8')
}
