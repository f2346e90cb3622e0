// How the proxy turns several backend answers into one (swift/proxy/controllers/base.py):
// a write succeeds when a quorum of replicas agree on a status class.

/** One backend answer, its small body already read. `status` 503 stands for "no answer". */
export interface NodeAnswer {
  status: number
  headers: Record<string, string>
  body: Buffer
}

/**
 * Swift's quorum_size for replicated data: ceil(n / 2), i.e. (n + 1) // 2. Two of three
 * replicas, one of two, two of four: a write is acknowledged once this many are durable.
 */
export function quorumSize(n: number): number {
  return Math.floor((n + 1) / 2)
}

/** True once `statuses` already decide the outcome (have_quorum): a quorum in one status class. */
export function haveQuorum(statuses: readonly number[], nodeCount: number, quorum = quorumSize(nodeCount)): boolean {
  if (statuses.length < quorum) return false
  for (const hundred of [100, 200, 300, 400]) {
    let n = 0
    for (const s of statuses) if (s >= hundred && s < hundred + 100) n++
    if (n >= quorum) return true
  }
  return false
}

/**
 * Swift's best_response: the first status class (2xx, then 3xx, then 4xx) that reaches the
 * quorum wins, and within it the highest status (so 202 beats 201, 409 beats 404); `overrides`
 * map statuses (e.g. 404 → 204 for object DELETE) when no quorum is reached otherwise. Null
 * means no quorum: the caller answers 503.
 */
export function bestResponse(answers: readonly NodeAnswer[], opts: { quorum?: number; overrides?: Record<number, number> } = {}): NodeAnswer | null {
  const quorum = opts.quorum ?? quorumSize(answers.length)
  const best = pick(answers, quorum, new Set())
  if (best || !opts.overrides) return best
  const faked = new Set<number>()
  const transformed = answers.map((a, i) => {
    const to = opts.overrides![a.status]
    if (to === undefined) return a
    faked.add(i)
    return { status: to, headers: {}, body: Buffer.alloc(0) }
  })
  return pick(transformed, quorum, faked)
}

function pick(answers: readonly NodeAnswer[], quorum: number, avoid: Set<number>): NodeAnswer | null {
  if (answers.length === 0) return null
  for (const hundred of [200, 300, 400]) {
    const inClass = answers.map((a, i) => [a, i] as const).filter(([a]) => a.status >= hundred && a.status < hundred + 100)
    if (inClass.length < quorum) continue
    let chosen: NodeAnswer | null = null
    for (const [a, i] of inClass) {
      if (avoid.has(i)) continue
      if (!chosen || a.status > chosen.status) chosen = a
    }
    // Only faked statuses in this class: Swift moves on to the next class.
    if (chosen) return chosen
  }
  return null
}
