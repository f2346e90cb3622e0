// A small, safe XML reader for S3's request documents (CompleteMultipartUpload, Delete,
// CORSConfiguration, AccessControlPolicy, VersioningConfiguration, CreateBucketConfiguration).
// These are flat, namespace-qualified element trees, so the reader supports exactly that:
// elements, attributes, text, CDATA, comments, the XML declaration and the five predefined and
// numeric entities. DOCTYPEs (and so external entities and entity expansion) are refused, depth
// and size are bounded; anything else is MalformedXML, never a crash.
import { s3err } from './errors.ts'

/** An element: local name (namespace prefix dropped), attributes, child elements and its text. */
export interface XmlElement {
  name: string
  attrs: Record<string, string>
  children: XmlElement[]
  /** The element's own character data (text and CDATA), concatenated, untrimmed. */
  text: string
}

const MAX_DEPTH = 32
const NAME = /^[A-Za-z_][\w.:-]*/

const malformed = (why: string) =>
  s3err('MalformedXML', `The XML you provided was not well-formed or did not validate against our published schema (${why}).`)

function decodeEntities(s: string): string {
  if (!s.includes('&')) return s
  // One left-to-right pass: decoded text is never rescanned, so "&amp;lt;" stays "&lt;".
  return s.replace(/&([^;&]{0,12})(;?)/g, (_m, ent: string, semi: string) => {
    if (!semi) throw malformed('bare &')
    switch (ent) {
      case 'lt': return '<'
      case 'gt': return '>'
      case 'amp': return '&'
      case 'quot': return '"'
      case 'apos': return "'"
    }
    const code = /^#x[0-9a-f]+$/i.test(ent) ? parseInt(ent.slice(2), 16) : /^#\d+$/.test(ent) ? parseInt(ent.slice(1), 10) : NaN
    if (!Number.isInteger(code) || code < 1 || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) {
      throw malformed(`unknown entity &${ent};`)
    }
    return String.fromCodePoint(code)
  })
}

const localName = (n: string) => n.slice(n.indexOf(':') + 1)

/** Parses a whole document into its root element. */
export function parseXml(src: string): XmlElement {
  // XML's end-of-line normalisation; character references (&#13;) still give a literal CR.
  const s = src.replace(/\r\n?/g, '\n')
  let i = 0
  const stack: XmlElement[] = []
  let root: XmlElement | undefined

  const skipSpace = () => { while (i < s.length && /\s/.test(s[i]!)) i++ }

  while (i < s.length) {
    const lt = s.indexOf('<', i)
    const textEnd = lt < 0 ? s.length : lt
    if (textEnd > i) {
      const text = s.slice(i, textEnd)
      const top = stack[stack.length - 1]
      if (top) top.text += decodeEntities(text)
      else if (text.trim()) throw malformed('text outside the root element')
      i = textEnd
      continue
    }
    if (s.startsWith('<?', i)) {
      const end = s.indexOf('?>', i)
      if (end < 0 || root || stack.length) throw malformed('misplaced processing instruction')
      i = end + 2
    } else if (s.startsWith('<!--', i)) {
      const end = s.indexOf('-->', i + 4)
      if (end < 0) throw malformed('unterminated comment')
      i = end + 3
    } else if (s.startsWith('<![CDATA[', i)) {
      const end = s.indexOf(']]>', i)
      const top = stack[stack.length - 1]
      if (end < 0 || !top) throw malformed('misplaced CDATA')
      top.text += s.slice(i + 9, end)
      i = end + 3
    } else if (s.startsWith('<!', i)) {
      throw malformed('DOCTYPE and declarations are not allowed')
    } else if (s.startsWith('</', i)) {
      i += 2
      const m = NAME.exec(s.slice(i, i + 256))
      const top = stack.pop()
      if (!m || !top || localName(m[0]) !== top.name) throw malformed('mismatched end tag')
      i += m[0].length
      skipSpace()
      if (s[i] !== '>') throw malformed('bad end tag')
      i++
    } else {
      i++
      const m = NAME.exec(s.slice(i, i + 256))
      if (!m) throw malformed('bad element name')
      i += m[0].length
      const el: XmlElement = { name: localName(m[0]), attrs: {}, children: [], text: '' }
      for (;;) {
        skipSpace()
        if (s.startsWith('/>', i) || s[i] === '>') break
        const a = NAME.exec(s.slice(i, i + 256))
        if (!a) throw malformed('bad attribute')
        i += a[0].length
        skipSpace()
        if (s[i] !== '=') throw malformed('attribute without value')
        i++
        skipSpace()
        const q = s[i]
        if (q !== '"' && q !== "'") throw malformed('unquoted attribute')
        const end = s.indexOf(q, i + 1)
        if (end < 0) throw malformed('unterminated attribute')
        el.attrs[a[0]] = decodeEntities(s.slice(i + 1, end))
        i = end + 1
      }
      const selfClosing = s[i] === '/'
      i += selfClosing ? 2 : 1
      const parent = stack[stack.length - 1]
      if (parent) parent.children.push(el)
      else if (root) throw malformed('more than one root element')
      else root = el
      if (!selfClosing) {
        if (stack.length >= MAX_DEPTH) throw malformed('too deeply nested')
        stack.push(el)
      }
    }
  }
  if (!root || stack.length) throw malformed(root ? 'unclosed element' : 'no root element')
  return root
}

// --- helpers for reading documents --------------------------------------------------------

/** The children named `name`. */
export function all(e: XmlElement, name: string): XmlElement[] {
  return e.children.filter((c) => c.name === name)
}

/** The text of the single child `name` (trimmed unless `raw`), or undefined. */
export function text(e: XmlElement, name: string, raw = false): string | undefined {
  const c = e.children.find((x) => x.name === name)
  if (!c) return undefined
  return raw ? c.text : c.text.trim()
}

/** Parses and checks the root element's name. */
export function parseDocument(src: string, rootName: string): XmlElement {
  const root = parseXml(src)
  if (root.name !== rootName) throw malformed(`expected <${rootName}>, got <${root.name}>`)
  return root
}

export { malformed }
