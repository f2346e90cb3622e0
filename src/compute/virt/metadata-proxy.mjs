// Run by QEMU's user-mode network (guestfwd=…-cmd:) once per guest TCP connection to the
// metadata address, with that connection on stdin/stdout (and stderr): it joins the
// connection to the agent's per-instance metadata socket given as the only argument.
// Plain JavaScript for plain `node`: it starts on every request, so no loader and no imports
// beyond node's own.
import { connect } from 'node:net'

const path = process.argv[2]
const sock = connect(path)
// Nothing may ever be written to stderr: it is the guest's connection too.
const quit = () => process.exit(0)
sock.on('error', quit)
sock.on('close', quit)
process.stdin.on('error', quit)
process.stdout.on('error', quit)
// A metadata request takes milliseconds: never linger behind a connection nobody closes.
setTimeout(quit, 300_000).unref()
sock.on('connect', () => {
  process.stdin.pipe(sock)
  sock.pipe(process.stdout)
})
