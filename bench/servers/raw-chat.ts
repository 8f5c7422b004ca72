/**
 * Reference server: a chat relay with nothing but `node:net`, written the
 * way a careful hand-written relay is, so that the chat figure compares our
 * server with a good baseline and not a naive one:
 *
 * - lines are split from each socket's data and capped (4096 bytes, as ours);
 * - `/nick NAME` sets the nickname and enters the single room, with the
 *   same replies as ours (`* you are now NAME`, `* you joined lobby`, and
 *   `* NAME joined lobby` to the others); any other line from a named client
 *   is relayed as `<NAME> TEXT` to everyone else;
 * - writes are batched per client per event-loop turn: lines for a client
 *   are collected and written once, in a single `write`, from `setImmediate`
 *   (a relay that writes once per line per client is 5-50x slower);
 * - a client whose unsent output passes 1 MiB is disconnected (the bounded
 *   outbox of a real relay);
 * - TCP_NODELAY on every socket, as ours: batching is done by the relay,
 *   and Nagle's algorithm would only wait for the clients' delayed ACKs.
 *
 * No sanitizing, no schema, no rate limit, no exit reasons, no metrics: the
 * floor of the job.
 *
 * Usage: node bench/servers/raw-chat.ts [PORT]; prints `raw-chat listening on HOST:PORT`.
 */
import * as Net from "node:net"

// Output of a command-line program (lint keeps console.log for the CLI).
const print = (line: string) => process.stdout.write(`${line}\n`)

interface Client {
  readonly socket: Net.Socket
  nick: string | undefined
  partial: string
  pending: Array<string>
}

const maxLineBytes = 4096
const maxUnsentBytes = 1024 * 1024
const clients = new Set<Client>()
const dirty = new Set<Client>()
let flushScheduled = false

const flush = () => {
  flushScheduled = false
  for (const client of dirty) {
    if (!client.socket.destroyed) {
      client.socket.write(client.pending.join(""))
      if (client.socket.writableLength > maxUnsentBytes) client.socket.destroy()
    }
    client.pending = []
  }
  dirty.clear()
}

const send = (client: Client, line: string) => {
  client.pending.push(line)
  dirty.add(client)
  if (!flushScheduled) {
    flushScheduled = true
    setImmediate(flush)
  }
}

const broadcast = (from: Client, line: string) => {
  for (const other of clients) {
    if (other !== from && other.nick !== undefined) send(other, line)
  }
}

const onLine = (client: Client, line: string) => {
  if (line.startsWith("/nick ")) {
    const nick = line.slice(6).trim()
    client.nick = nick
    send(client, `* you are now ${nick}\n`)
    broadcast(client, `* ${nick} joined lobby\n`)
    send(client, "* you joined lobby\n")
  } else if (client.nick === undefined) {
    send(client, "* error: choose a nickname first with /nick NAME\n")
  } else if (line.length > 0) {
    broadcast(client, `<${client.nick}> ${line}\n`)
  }
}

const server = Net.createServer({ allowHalfOpen: false, noDelay: true }, (socket) => {
  const client: Client = { socket, nick: undefined, partial: "", pending: [] }
  clients.add(client)
  socket.setEncoding("utf8")
  socket.on("data", (text: string) => {
    const buffered = client.partial + text
    let start = 0
    let end: number
    while ((end = buffered.indexOf("\n", start)) >= 0) {
      onLine(client, buffered.slice(start, buffered.charCodeAt(end - 1) === 13 ? end - 1 : end))
      start = end + 1
    }
    client.partial = buffered.slice(start)
    if (Buffer.byteLength(client.partial) > maxLineBytes) socket.destroy()
  })
  socket.on("error", () => socket.destroy())
  socket.on("close", () => {
    clients.delete(client)
    dirty.delete(client)
    if (client.nick !== undefined) broadcast(client, `* ${client.nick} disconnected\n`)
  })
  send(client, "* welcome to socket-to-me chat\n* choose a nickname with /nick NAME (type /help for commands)\n")
})
server.listen({ host: "127.0.0.1", port: Number(process.argv[2] ?? 0) }, () => {
  const address = server.address() as Net.AddressInfo
  print(`raw-chat listening on ${address.address}:${address.port}`)
})
const stop = () => process.exit(0)
process.on("SIGTERM", stop)
process.on("SIGINT", stop)
