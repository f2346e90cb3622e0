import type { AuthContext } from './auth.ts'
import { CloudError } from './errors.ts'

/**
 * A policy engine for oslo.policy's rule language, so OpenStack's default rules and
 * operators' overrides read the same here:
 *   "role:admin or (role:reader and system_scope:all) or user_id:%(target.user.id)s"
 * Checks: `@` (always), `!` (never), `role:X`, `rule:NAME`, `system_scope:all`,
 * `FIELD:%(path)s` (a credential field equals a target value), `FIELD:'literal'`, `FIELD:True`.
 */
export type Rules = Record<string, string>

type Node =
  | { t: 'and' | 'or'; a: Node[] }
  | { t: 'not'; a: Node }
  | { t: 'true' } | { t: 'false' }
  | { t: 'check'; kind: string; match: string }

export class PolicyEngine {
  private readonly compiled = new Map<string, Node>()
  constructor(private readonly rules: Rules) {}

  /** Adds or overrides rules (a service registers its defaults; operators may override). */
  register(rules: Rules): void {
    for (const [k, v] of Object.entries(rules)) { this.rules[k] = v; this.compiled.delete(k) }
  }

  has(name: string): boolean { return name in this.rules }

  /** True when the caller may perform `rule` on `target`. Unknown rules deny. */
  check(rule: string, ctx: AuthContext | undefined, target: Record<string, unknown> = {}): boolean {
    if (!ctx) return false
    return this.evalRule(rule, credentials(ctx), target, 0)
  }

  /** Throws Keystone's 403 when the check fails. */
  enforce(rule: string, ctx: AuthContext | undefined, target: Record<string, unknown> = {}): void {
    if (!this.check(rule, ctx, target)) {
      throw new CloudError('Forbidden', `You are not authorized to perform the requested action: ${rule}.`)
    }
  }

  private evalRule(name: string, cred: Cred, target: Record<string, unknown>, depth: number): boolean {
    if (depth > 20) return false
    const text = this.rules[name]
    if (text === undefined) return false
    let node = this.compiled.get(name)
    if (!node) { node = parse(text); this.compiled.set(name, node) }
    return this.evalNode(node, cred, target, depth)
  }

  private evalNode(n: Node, cred: Cred, target: Record<string, unknown>, depth: number): boolean {
    switch (n.t) {
      case 'true': return true
      case 'false': return false
      case 'not': return !this.evalNode(n.a, cred, target, depth)
      case 'and': return n.a.every((x) => this.evalNode(x, cred, target, depth))
      case 'or': return n.a.some((x) => this.evalNode(x, cred, target, depth))
      case 'check': {
        if (n.kind === 'rule') return this.evalRule(n.match, cred, target, depth + 1)
        if (n.kind === 'role') return cred.roles.has(n.match.toLowerCase())
        const have = cred.fields[n.kind]
        if (have === undefined || have === null) return false
        const m = /^%\((.+)\)s$/.exec(n.match)
        let want: unknown
        if (m) want = lookup(target, m[1]!)
        else if (/^'.*'$/.test(n.match)) want = n.match.slice(1, -1)
        else if (n.match === 'True') want = true
        else if (n.match === 'False') want = false
        else want = n.match
        if (want === undefined || want === null) return false
        return String(have) === String(want)
      }
    }
  }
}

interface Cred { roles: Set<string>; fields: Record<string, string | boolean | undefined> }

function credentials(ctx: AuthContext): Cred {
  return {
    roles: new Set(ctx.roles.map((r) => r.name.toLowerCase())),
    fields: {
      user_id: ctx.userId,
      user_domain_id: ctx.userDomainId,
      project_id: ctx.projectId,
      project_domain_id: ctx.projectDomainId,
      domain_id: ctx.domainId,
      system_scope: ctx.system,
      is_admin_project: ctx.isAdminProject,
      'token.domain.id': ctx.domainId,
      'token.project.domain.id': ctx.projectDomainId,
      'token.user.domain.id': ctx.userDomainId,
    },
  }
}

/** Resolves `target.user.domain_id` (or `user_id`) in the target given by a handler. */
function lookup(target: Record<string, unknown>, path: string): unknown {
  const flat = target[path]
  if (flat !== undefined) return flat
  const parts = path.startsWith('target.') ? path.slice(7).split('.') : path.split('.')
  let cur: unknown = target
  for (const p of parts) {
    if (cur === null || typeof cur !== 'object') return undefined
    cur = (cur as Record<string, unknown>)[p]
  }
  return cur
}

// --- parser: tokens are '(', ')', 'and', 'or', 'not', '@', '!', and kind:match checks ---

export function parse(text: string): Node {
  // Parentheses split off only at a word's edges, so `%(target.user.id)s` stays one token;
  // and/or/not in any case, as oslo.policy reads them.
  const toks: string[] = []
  for (let word of text.trim().split(/\s+/).filter(Boolean)) {
    while (word.startsWith('(')) { toks.push('('); word = word.slice(1) }
    let close = 0
    while (word.endsWith(')')) { close++; word = word.slice(0, -1) }
    if (word) toks.push(/^(and|or|not)$/i.test(word) ? word.toLowerCase() : word)
    for (; close > 0; close--) toks.push(')')
  }
  if (toks.length === 0) return { t: 'true' } // oslo.policy: an empty rule always passes
  let i = 0
  const peek = () => toks[i]
  function orExpr(): Node {
    const a = [andExpr()]
    while (peek() === 'or') { i++; a.push(andExpr()) }
    return a.length === 1 ? a[0]! : { t: 'or', a }
  }
  function andExpr(): Node {
    const a = [notExpr()]
    while (peek() === 'and') { i++; a.push(notExpr()) }
    return a.length === 1 ? a[0]! : { t: 'and', a }
  }
  function notExpr(): Node {
    if (peek() === 'not') { i++; return { t: 'not', a: notExpr() } }
    return atom()
  }
  function atom(): Node {
    const tok = toks[i++]
    if (tok === undefined) throw new Error(`policy: unexpected end of rule "${text}"`)
    if (tok === '(') {
      const n = orExpr()
      if (toks[i++] !== ')') throw new Error(`policy: missing ')' in "${text}"`)
      return n
    }
    if (tok === '@') return { t: 'true' }
    if (tok === '!') return { t: 'false' }
    const c = tok.indexOf(':')
    if (c < 1) throw new Error(`policy: bad check "${tok}" in "${text}"`)
    return { t: 'check', kind: tok.slice(0, c), match: tok.slice(c + 1) }
  }
  const n = orExpr()
  if (i !== toks.length) throw new Error(`policy: trailing tokens in "${text}"`)
  return n
}
