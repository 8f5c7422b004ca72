/**
 * Reference server: echo with nothing but `node:net`. Each socket is piped
 * into itself, which is Node's own backpressure (pause when the write
 * buffer is full, resume on drain) and what a careful hand-written echo does.
 * TCP_NODELAY as ours, so that the figures compare the software, not a
 * socket option.
 *
 * Usage: node bench/servers/raw-echo.ts [PORT]; prints `raw-echo listening on HOST:PORT`.
 */
import * as Net from "node:net"

// Output of a command-line program (lint keeps console.log for the CLI).
const print = (line: string) => process.stdout.write(`${line}\n`)

const server = Net.createServer({ allowHalfOpen: true, noDelay: true }, (socket) => {
  socket.on("error", () => socket.destroy())
  socket.pipe(socket)
})
server.listen({ host: "127.0.0.1", port: Number(process.argv[2] ?? 0) }, () => {
  const address = server.address() as Net.AddressInfo
  print(`raw-echo listening on ${address.address}:${address.port}`)
})
const stop = () => process.exit(0)
process.on("SIGTERM", stop)
process.on("SIGINT", stop)
