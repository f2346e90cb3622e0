// Reading a byte stream chunk by chunk, as the chunks came.
//
// `for await (const c of readable)` reads a paused byte stream with read(), which returns
// *everything* buffered — several socket chunks concatenated into a new buffer. For an upload
// that is a copy of most of its bytes into freshly allocated memory (page faults on these VMs):
// a 512 MiB PUT spent more CPU in those copies and the collector than in everything but MD5.
// `chunksOf` takes the chunks from 'data' events instead (flowing mode, paused while a few are
// waiting), so each one is handed over as it was received.
import { Readable } from 'node:stream'

/** Chunks waiting before the stream is paused. */
const QUEUE = 4

/**
 * The chunks of `body` without re-buffering; other iterables are returned as they are.
 * `stop` ends the iteration with its reason without destroying the stream, so its owner can
 * still answer on the connection (a 408 to a client that went silent).
 */
export function chunksOf<T>(body: AsyncIterable<T>, stop?: AbortSignal): AsyncIterable<T> {
  if (!(body instanceof Readable) || body.readableObjectMode) return body
  return flowingChunks(body, stop) as AsyncIterable<T>
}

async function* flowingChunks(stream: Readable, stop?: AbortSignal): AsyncGenerator<unknown> {
  const queue: unknown[] = []
  let ended = false
  let failure: Error | undefined
  let wake: (() => void) | undefined
  const poke = () => { const w = wake; wake = undefined; w?.() }
  const onData = (c: unknown) => { queue.push(c); if (queue.length >= QUEUE) stream.pause(); poke() }
  const onEnd = () => { ended = true; poke() }
  const onError = (err: Error) => { failure = err; poke() }
  // A stream destroyed before its end (a client gone) only emits 'close'.
  const onClose = () => { if (!ended) failure ??= Object.assign(new Error('aborted'), { code: 'ECONNRESET' }); poke() }
  stream.on('data', onData)
  stream.on('end', onEnd)
  stream.on('error', onError)
  stream.on('close', onClose)
  const onStop = () => { failure ??= stop!.reason as Error; poke() }
  stop?.addEventListener('abort', onStop)
  try {
    for (;;) {
      if (queue.length) {
        yield queue.shift()
        if (queue.length < QUEUE && stream.isPaused()) stream.resume()
        continue
      }
      if (failure) throw failure
      if (ended) return
      await new Promise<void>((resolve) => { wake = resolve })
    }
  } finally {
    stream.off('data', onData)
    stream.off('end', onEnd)
    stream.off('error', onError)
    stream.off('close', onClose)
    stop?.removeEventListener('abort', onStop)
    // Given up early (an error downstream): leave the stream paused for its owner to handle.
    if (!ended) stream.pause()
  }
}
