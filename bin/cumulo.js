#!/usr/bin/env node
// Entry point: runs the TypeScript sources directly through tsx (no build step).
// Object and volume I/O fsyncs a lot: give libuv more threads than its default 4 so fsyncs
// don't queue every other file operation behind them (read once, at the first async I/O).
process.env.UV_THREADPOOL_SIZE ??= '64'
import { register } from 'tsx/esm/api'
register()
await import('../src/cli/main.ts')
