/**
 * Reference server: echo over TLS with nothing but `node:tls`. Each TLS
 * socket is piped into itself, as the raw TCP echo does (servers/raw-echo.ts),
 * with TCP_NODELAY as ours.
 *
 * Usage: node bench/servers/raw-tls-echo.ts PORT CERT KEY; prints
 * `raw-tls-echo listening on HOST:PORT`.
 */
import { readFileSync } from "node:fs"
import * as Net from "node:net"
import * as Tls from "node:tls"

// Output of a command-line program (lint keeps console.log for the CLI).
const print = (line: string) => process.stdout.write(`${line}\n`)

const [port = "0", cert = "", key = ""] = process.argv.slice(2)
const server = Tls.createServer({ cert: readFileSync(cert), key: readFileSync(key), allowHalfOpen: true }, (socket) => {
  socket.setNoDelay(true)
  socket.on("error", () => socket.destroy())
  socket.pipe(socket)
})
server.on("tlsClientError", () => {})
server.listen({ host: "127.0.0.1", port: Number(port) }, () => {
  const address = server.address() as Net.AddressInfo
  print(`raw-tls-echo listening on ${address.address}:${address.port}`)
})
const stop = () => process.exit(0)
process.on("SIGTERM", stop)
process.on("SIGINT", stop)
