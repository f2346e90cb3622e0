// The HTML pages of staticweb, byte for byte as Swift's staticweb.py writes them: the listing
// of a container or pseudo-directory (a table with a stylesheet link or Swift's inline style)
// and the "Web Listing Disabled" page.
import { pyQuote } from './bulk-response.ts'

/** One row of a JSON container listing (delimiter=/): an object or a subdir. */
export type ListingItem = { subdir: string } | { name: string; bytes: number; content_type: string; last_modified: string }

/** Python's html.escape(s, quote=True). */
export function htmlEscape(s: string): string {
  return s.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;').replaceAll("'", '&#x27;')
}

/** Python 3's round(): halves go to the even neighbour. */
function pyRound(v: number): number {
  const f = Math.floor(v)
  const d = v - f
  if (d > 0.5) return f + 1
  if (d < 0.5) return f
  return f % 2 === 0 ? f : f + 1
}

/** Swift's human_readable: 1048576 → "1Mi", 1000 → "1000". */
export function humanReadable(n: number): string {
  let v = n
  let i = -1
  const suffixes = 'KMGTPEZY'
  while (v >= 1024 && i + 1 < suffixes.length) {
    i++
    v = pyRound(v / 1024)
  }
  return i < 0 ? String(Math.trunc(v)) : `${pyRound(v)}${suffixes[i]}i`
}

/** The stylesheet link of a page under `prefix` (Swift's _build_css_path): relative up to the container. */
export function cssPath(css: string, prefix: string): string {
  if (css.startsWith('/') || css.startsWith('http://') || css.startsWith('https://')) return pyQuote(css, ':/')
  return '../'.repeat(prefix.split('/').length - 1) + pyQuote(css)
}

/** The page served when listings are off (Swift's 404 body), with the missing index named when set. */
export function listingDisabledPage(label: string, css: string, prefix: string, index: string): string {
  let body = `<!DOCTYPE html>\n<html>\n<head>\n<title>Listing of ${htmlEscape(label)}</title>\n`
  if (css) body += `  <link rel="stylesheet" type="text/css" href="${cssPath(css, prefix)}" />\n`
  else body += '  <style type="text/css">\n   h1 {font-size: 1em; font-weight: bold;}\n   p {font-size: 2}\n  </style>\n'
  body += '</head>\n<body>  <h1>Web Listing Disabled</h1>   <p>The owner of this web site has disabled web listing.' +
    '   <p>If you are the owner of this web site, you can enable   web listing by setting X-Container-Meta-Web-Listings.</p>'
  if (index) {
    body += '<h1>Index File Not Found</h1> <p>The owner of this web site has set ' +
      ` <b>X-Container-Meta-Web-Index: ${htmlEscape(index)}</b>.  However, this file is not found.</p>`
  }
  return body + ' </body>\n</html>\n'
}

/** The listing page of `prefix` ("" for the container itself). */
export function listingPage(label: string, css: string, prefix: string, items: readonly ListingItem[]): string {
  let body = `<!DOCTYPE html>\n<html>\n <head>\n  <title>Listing of ${htmlEscape(label)}</title>\n`
  if (css) body += `  <link rel="stylesheet" type="text/css" href="${cssPath(css, prefix)}" />\n`
  else {
    body += '  <style type="text/css">\n   h1 {font-size: 1em; font-weight: bold;}\n' +
      '   th {text-align: left; padding: 0px 1em 0px 1em;}\n   td {padding: 0px 1em 0px 1em;}\n' +
      '   a {text-decoration: none;}\n  </style>\n'
  }
  body += ` </head>\n <body>\n  <h1 id="title">Listing of ${htmlEscape(label)}</h1>\n  <table id="listing">\n` +
    '   <tr id="heading">\n    <th class="colname">Name</th>\n    <th class="colsize">Size</th>\n' +
    '    <th class="coldate">Date</th>\n   </tr>\n'
  if (prefix) {
    body += '   <tr id="parent" class="item">\n    <td class="colname"><a href="../">../</a></td>\n' +
      '    <td class="colsize">&nbsp;</td>\n    <td class="coldate">&nbsp;</td>\n   </tr>\n'
  }
  const link = (s: string) => pyQuote(s).replaceAll('.', '%2E')
  for (const item of items) {
    if (!('subdir' in item)) continue
    const subdir = item.subdir.slice(prefix.length)
    body += `   <tr class="item subdir">\n    <td class="colname"><a href="./${link(subdir)}">${htmlEscape(subdir)}</a></td>\n` +
      '    <td class="colsize">&nbsp;</td>\n    <td class="coldate">&nbsp;</td>\n   </tr>\n'
  }
  for (const item of items) {
    if (!('name' in item)) continue
    const name = item.name.slice(prefix.length)
    const types = item.content_type.split('/').map((t) => 'type-' + htmlEscape(t.toLowerCase())).join(' ')
    const date = htmlEscape(item.last_modified).split('.')[0]!.replaceAll('T', ' ')
    body += `   <tr class="item ${types}">\n    <td class="colname"><a href="./${link(name)}">${htmlEscape(name)}</a></td>\n` +
      `    <td class="colsize">${humanReadable(item.bytes)}</td>\n    <td class="coldate">${date}</td>\n   </tr>\n`
  }
  return body + '  </table>\n </body>\n</html>\n'
}
