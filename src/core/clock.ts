/** Time source, injectable so tests can move time. */
export interface Clock { now(): number }
export const systemClock: Clock = { now: () => Date.now() }

/** OpenStack's timestamp format with microseconds: 2026-11-24T20:15:46.000000Z */
export function isoMicro(ms: number): string {
  const d = new Date(ms).toISOString() // 2026-11-24T20:15:46.123Z
  return d.slice(0, 23) + '000Z'
}

/** Seconds precision, as most OpenStack resources show created_at. */
export function isoSeconds(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19) + 'Z'
}

/** Parses an ISO 8601 time given by a client; returns NaN when it is not one. */
export function parseTime(s: string): number {
  if (!/^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$/.test(s)) return NaN
  // Date.parse rolls impossible days over (2026-02-30 is taken as March 2); reject them.
  const [y, mo, d] = s.slice(0, 10).split('-').map(Number) as [number, number, number]
  const day = new Date(Date.UTC(y, mo - 1, d))
  if (day.getUTCMonth() !== mo - 1 || day.getUTCDate() !== d) return NaN
  const hasZone = /(Z|[+-]\d{2}:?\d{2})$/.test(s)
  return Date.parse(hasZone ? s : s + 'Z')
}
