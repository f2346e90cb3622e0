// temp_url_ip_range as Swift reads it (Python's ipaddress.ip_network, strict): an IPv4 or IPv6
// address or network ("1.2.3.4", "1.2.3.0/24", "1.2.3.0/255.255.255.0", "2001:db8::/32"), and
// whether the client's address lies inside it. Host bits set in a network are an error, as
// in Python, so a mistyped range never silently widens.
import { isIPv4, isIPv6 } from 'node:net'

/** An address as a number and its family. */
interface Ip { bits: 32 | 128; n: bigint }

function v4(s: string): bigint | undefined {
  if (!isIPv4(s)) return undefined
  return s.split('.').reduce((acc, o) => (acc << 8n) | BigInt(o), 0n)
}

function parseIp(s: string): Ip | undefined {
  const four = v4(s)
  if (four !== undefined) return { bits: 32, n: four }
  if (!isIPv6(s) || s.includes('%')) return undefined
  // An IPv6 address may end in dotted IPv4 ("::ffff:1.2.3.4"): turn that into two groups.
  let text = s
  const dot = text.lastIndexOf(':')
  if (text.includes('.')) {
    const tail = v4(text.slice(dot + 1))
    if (tail === undefined) return undefined
    text = `${text.slice(0, dot + 1)}${(tail >> 16n).toString(16)}:${(tail & 0xffffn).toString(16)}`
  }
  const [head, rest] = text.split('::') as [string, string | undefined]
  const groups = (g: string) => (g === '' ? [] : g.split(':'))
  const left = groups(head)
  const right = rest === undefined ? [] : groups(rest)
  const all = rest === undefined ? left : [...left, ...Array(8 - left.length - right.length).fill('0'), ...right]
  if (all.length !== 8) return undefined
  return { bits: 128, n: all.reduce((acc, g) => (acc << 16n) | BigInt(`0x${g}`), 0n) }
}

/** A client address as Swift's eventlet reports it: IPv4 clients of a dual-stack socket are plain IPv4. */
export function clientIp(addr: string): string {
  return /^::ffff:\d+\.\d+\.\d+\.\d+$/i.test(addr) ? addr.slice(7) : addr
}

/** Whether `addr` lies in the network `range`; false when either does not parse (Swift: Temp URL invalid). */
export function inIpRange(addr: string, range: string): boolean {
  const ip = parseIp(clientIp(addr))
  const slash = range.indexOf('/')
  const net = parseIp(slash < 0 ? range : range.slice(0, slash))
  if (!ip || !net || ip.bits !== net.bits) return false
  let prefix = net.bits as number
  if (slash >= 0) {
    const p = range.slice(slash + 1)
    if (/^\d{1,3}$/.test(p)) prefix = Number(p)
    else {
      // A dotted netmask (IPv4 only) must be contiguous ones.
      const mask = net.bits === 32 ? v4(p) : undefined
      if (mask === undefined) return false
      const ones = mask.toString(2).replace(/^0+/, '')
      if (mask !== 0n && (ones.length !== 32 || /01/.test(ones))) return false
      prefix = mask === 0n ? 0 : ones.indexOf('0') < 0 ? 32 : ones.indexOf('0')
    }
    if (prefix > net.bits) return false
  }
  const hostBits = BigInt(net.bits - prefix)
  const hostMask = (1n << hostBits) - 1n
  if ((net.n & hostMask) !== 0n) return false
  return (ip.n >> hostBits) === (net.n >> hostBits)
}
