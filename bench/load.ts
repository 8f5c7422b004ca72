/**
 * The load generator: a separate process (pinned to its own core by the
 * benchmark) that takes commands over its IPC channel, runs one measured
 * window against a server and reports what it counted and what the window
 * cost in CPU (its own, the server's, the machine's steal).
 *
 * It is written to stay out of the server's way: every socket reads into
 * one fixed buffer of its own (`onread`), so a read allocates nothing; the
 * bytes it sends are preallocated; nothing is parsed that need not be.
 *
 * Every command is bounded in time: connections that do not open, windows
 * that do not end, closes that do not complete all give up on a deadline,
 * and the process exits when the benchmark that started it goes away.
 */
import { createHash } from "node:crypto"
import { readFileSync } from "node:fs"
import * as Net from "node:net"
import * as Tls from "node:tls"
import { control, dataType, frame } from "./lib/frames.ts"
import * as Proc from "./lib/proc.ts"

/** A command from the benchmark. */
export type Command =
  | {
    readonly cmd: "stream"
    readonly port: number
    readonly serverPid: number
    readonly connections: number
    readonly chunkBytes: number
    /** Connect with TLS, trusting this PEM certificate (the servers' own, self-signed). */
    readonly tlsCa?: string | undefined
    readonly warmupMs: number
    readonly measureMs: number
  }
  | {
    readonly cmd: "rr"
    readonly port: number
    readonly serverPid: number
    readonly connections: number
    readonly messageBytes: number
    readonly warmupMs: number
    readonly measureMs: number
  }
  | {
    readonly cmd: "chat"
    readonly port: number
    readonly serverPid: number
    /** Servers sharing one chat: client i connects to `ports[i % ports.length]` (default `[port]`). */
    readonly ports?: ReadonlyArray<number> | undefined
    /** Processes whose CPU is the server side's (default `[serverPid]`). */
    readonly serverPids?: ReadonlyArray<number> | undefined
    readonly clients: number
    /** Most messages that may be on their way to any one client. */
    readonly window: number
    readonly warmupMs: number
    readonly measureMs: number
  }
  | {
    readonly cmd: "upload"
    readonly port: number
    readonly serverPid: number
    /** `files`: the files protocol (ours); `raw`: servers/raw-files.ts. */
    readonly protocol: "files" | "raw"
    readonly bytes: number
    readonly name: string
  }
  | { readonly cmd: "idle-open"; readonly port: number; readonly total: number }
  | { readonly cmd: "idle-close" }
  | { readonly cmd: "exit" }

/** What one measured window counted. */
export interface WindowResult {
  /** Units counted in the window (bytes, round trips, messages). */
  readonly count: number
  readonly seconds: number
  readonly usage: Proc.Usage
}

const host = "127.0.0.1"
const connectTimeoutMs = 10_000
const closeTimeoutMs = 3_000

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

const withDeadline = <A>(promise: Promise<A>, ms: number, what: string): Promise<A> =>
  new Promise<A>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms)
    promise.then(
      (value) => {
        clearTimeout(timer)
        resolve(value)
      },
      (error: unknown) => {
        clearTimeout(timer)
        reject(error)
      }
    )
  })

/** A socket with its own read buffer; `onRead` sees how many bytes came into it. */
const connect = (port: number, readBytes: number, onRead: (n: number, buffer: Buffer, socket: Net.Socket) => void) =>
  withDeadline(
    new Promise<Net.Socket>((resolve, reject) => {
      const buffer = Buffer.allocUnsafe(readBytes)
      const socket: Net.Socket = Net.connect({
        host,
        port,
        allowHalfOpen: true,
        // Small messages go out at once: with Nagle's algorithm a client's
        // next line waits for the server's delayed ACK (40 ms), and the
        // figures would measure that wait instead of the server.
        noDelay: true,
        onread: {
          buffer,
          callback: (n: number) => {
            onRead(n, buffer, socket)
            return true
          }
        }
      })
      socket.once("connect", () => {
        socket.off("error", reject)
        socket.on("error", () => socket.destroy())
        resolve(socket)
      })
      socket.once("error", reject)
    }),
    connectTimeoutMs,
    `connect to port ${port}`
  )

/**
 * A TLS socket to `port`, trusting `ca` and checking the name `localhost`.
 * Node's TLS client has no `onread`: each read is a buffer of its own, the
 * same for every server measured.
 */
const connectTls = (port: number, ca: string, onRead: (n: number) => void) =>
  withDeadline(
    new Promise<Net.Socket>((resolve, reject) => {
      const socket = Tls.connect({ host, port, ca, servername: "localhost" })
      socket.setNoDelay(true)
      socket.on("data", (chunk: Buffer) => onRead(chunk.byteLength))
      socket.once("secureConnect", () => {
        socket.off("error", reject)
        socket.on("error", () => socket.destroy())
        resolve(socket)
      })
      socket.once("error", reject)
    }),
    connectTimeoutMs,
    `TLS connect to port ${port}`
  )

/** Opens `count` sockets, at most `batch` connecting at once (the accept backlog is finite). */
const connectMany = async (
  count: number,
  batch: number,
  open: () => Promise<Net.Socket>
): Promise<Array<Net.Socket>> => {
  const sockets: Array<Net.Socket> = []
  try {
    for (let i = 0; i < count; i += batch) {
      const n = Math.min(batch, count - i)
      sockets.push(...await Promise.all(Array.from({ length: n }, open)))
    }
  } catch (error) {
    for (const socket of sockets) socket.destroy()
    throw error
  }
  return sockets
}

/**
 * Closes in order (FIN) and waits for the server to close too, so that no
 * server sees a reset; whatever has not closed by the deadline is destroyed.
 */
const closeAll = async (sockets: ReadonlyArray<Net.Socket>) => {
  const closed = sockets.map((socket) =>
    socket.closed ? Promise.resolve() : new Promise<void>((resolve) => socket.once("close", () => resolve()))
  )
  for (const socket of sockets) {
    if (!socket.destroyed) socket.end()
  }
  // A socket the server already ended needs only our FIN; `end` destroys it
  // after that because allowHalfOpen keeps it open otherwise.
  for (const socket of sockets) socket.once("end", () => socket.destroy())
  await Promise.race([Promise.all(closed), sleep(closeTimeoutMs)])
  for (const socket of sockets) socket.destroy()
}

/**
 * Runs `drive` for warm-up then a measured window; `counter` is read at the
 * window's edges, and so are the CPU counters.
 */
const measure = async (
  serverPid: number | ReadonlyArray<number>,
  warmupMs: number,
  measureMs: number,
  counter: () => number
): Promise<WindowResult> => {
  await sleep(warmupMs)
  const start = Proc.snapshot(serverPid, process.pid)
  const from = counter()
  await sleep(measureMs)
  const end = Proc.snapshot(serverPid, process.pid)
  const to = counter()
  return { count: to - from, seconds: (end.at - start.at) / 1000, usage: Proc.usage(start, end) }
}

const stream = async (command: Extract<Command, { cmd: "stream" }>): Promise<WindowResult> => {
  let received = 0
  let running = true
  const chunk = Buffer.alloc(command.chunkBytes, 0x61)
  const count = (n: number) => {
    received += n
  }
  const ca = command.tlsCa === undefined ? undefined : readFileSync(command.tlsCa, "utf8")
  const sockets = await connectMany(
    command.connections,
    200,
    () => ca === undefined ? connect(command.port, 64 * 1024, count) : connectTls(command.port, ca, count)
  )
  // Write until the socket's buffer is full, then wait for it to drain:
  // TCP and the server's own backpressure decide how much is in flight.
  const pump = (socket: Net.Socket) => {
    while (running && !socket.destroyed) {
      if (!socket.write(chunk)) return
    }
  }
  for (const socket of sockets) {
    socket.on("drain", () => pump(socket))
    pump(socket)
  }
  try {
    return await measure(command.serverPid, command.warmupMs, command.measureMs, () => received)
  } finally {
    running = false
    await closeAll(sockets)
  }
}

const roundTrips = async (command: Extract<Command, { cmd: "rr" }>): Promise<WindowResult> => {
  let completed = 0
  let running = true
  const message = Buffer.alloc(command.messageBytes, 0x62)
  const pending = new Map<Net.Socket, number>()
  const sockets = await connectMany(command.connections, 200, () =>
    connect(command.port, 4096, (n, _buffer, socket) => {
      // One message in flight per socket: count its bytes back, then send the next.
      let got = (pending.get(socket) ?? 0) + n
      while (got >= command.messageBytes) {
        got -= command.messageBytes
        completed++
        if (running) socket.write(message)
      }
      pending.set(socket, got)
    }))
  for (const socket of sockets) socket.write(message)
  try {
    return await measure(command.serverPid, command.warmupMs, command.measureMs, () => completed)
  } finally {
    running = false
    await closeAll(sockets)
  }
}

// One chat client: counts the room messages (`<NICK> TEXT` lines) it gets
// with a byte scan, and watches for its join confirmation.
interface ChatClient {
  socket: Net.Socket
  joined: boolean
  joinText: string
  atLineStart: boolean
  received: number
  sent: number
  closed: boolean
}

const chat = async (command: Extract<Command, { cmd: "chat" }>): Promise<WindowResult> => {
  const lt = 0x3c
  const lf = 0x0a
  const clients: Array<ChatClient> = []
  let onJoined: (() => void) | undefined
  let joinedCount = 0
  let pumpScheduled = false
  let running = false
  // Everyone sends in turn, one line at a time, as long as no client has
  // more than `window` messages on their way to it: with the room's
  // outbox at 256 lines, no client is ever cut off as a slow consumer.
  const line = Buffer.from("m 0123456789abcdefghijklmnopqrstuv\n")
  let total = 0
  let next = 0
  let lowest = 0
  const settleLowest = () => {
    lowest = Infinity
    for (const client of clients) lowest = Math.min(lowest, client.received + client.sent)
  }
  const pump = () => {
    pumpScheduled = false
    if (!running) return
    for (let sends = 0; sends < 10 * command.clients; sends++) {
      if (total + 1 - lowest > command.window) {
        settleLowest()
        if (total + 1 - lowest > command.window) return
      }
      const client = clients[next]!
      next = (next + 1) % clients.length
      client.socket.write(line)
      client.sent++
      total++
    }
    if (!pumpScheduled) {
      pumpScheduled = true
      setImmediate(pump)
    }
  }
  const ports = command.ports ?? [command.port]
  let opened = 0
  const sockets = await connectMany(command.clients, 100, () => {
    const port = ports[opened++ % ports.length]!
    const client: ChatClient = {
      socket: undefined as unknown as Net.Socket,
      joined: false,
      joinText: "",
      atLineStart: true,
      received: 0,
      sent: 0,
      closed: false
    }
    return connect(port, 64 * 1024, (n, buffer) => {
      if (!client.joined) {
        client.joinText += buffer.toString("utf8", 0, n)
        if (client.joinText.includes("* you joined lobby\n")) {
          client.joined = true
          client.joinText = ""
          joinedCount++
          if (joinedCount === command.clients) onJoined?.()
        }
      }
      // Count lines that start with '<' (room messages), across reads.
      let at = client.atLineStart
      for (let i = 0; i < n; i++) {
        const byte = buffer[i]!
        if (at && byte === lt) client.received++
        at = byte === lf
      }
      client.atLineStart = at
      if (running && !pumpScheduled) {
        pumpScheduled = true
        setImmediate(pump)
      }
    }).then((socket) => {
      client.socket = socket
      socket.on("close", () => {
        client.closed = true
      })
      clients.push(client)
      return socket
    })
  })
  try {
    await withDeadline(
      new Promise<void>((resolve) => {
        onJoined = resolve
        clients.forEach((client, i) => client.socket.write(`/nick c${i}\n`))
        if (joinedCount === command.clients) resolve()
      }),
      20_000,
      "chat: every client joining"
    )
    await sleep(300)
    running = true
    settleLowest()
    pump()
    const delivered = () => clients.reduce((sum, client) => sum + client.received, 0)
    const result = await measure(command.serverPids ?? command.serverPid, command.warmupMs, command.measureMs, delivered)
    running = false
    const cut = clients.filter((client) => client.closed).length
    if (cut > 0) throw new Error(`chat: ${cut} clients were disconnected during the window`)
    return result
  } finally {
    running = false
    await closeAll(sockets)
  }
}

// The bytes an upload sends: one 64 KiB block of pseudo-random bytes,
// repeated; its SHA-256 over the whole size is computed once per size.
const uploadBlock = (() => {
  const block = Buffer.alloc(64 * 1024)
  let x = 0x2545f491
  for (let i = 0; i < block.length; i++) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    block[i] = x & 0xff
  }
  return block
})()
const digests = new Map<number, string>()
const digestOf = (bytes: number) => {
  let digest = digests.get(bytes)
  if (digest === undefined) {
    const hash = createHash("sha256")
    for (let sent = 0; sent < bytes; sent += uploadBlock.length) {
      hash.update(uploadBlock.subarray(0, Math.min(uploadBlock.length, bytes - sent)))
    }
    digest = hash.digest("hex")
    digests.set(bytes, digest)
  }
  return digest
}

interface UploadResult {
  readonly bytes: number
  readonly seconds: number
  readonly usage: Proc.Usage
  readonly reply: string
}

// One upload of `bytes` bytes, timed from connecting to the server's answer
// that the file is saved and verified.
const upload = async (command: Extract<Command, { cmd: "upload" }>): Promise<UploadResult> => {
  if (command.bytes % uploadBlock.length !== 0) throw new Error("upload: size must be a multiple of 64 KiB")
  const sha256 = digestOf(command.bytes)
  const files = command.protocol === "files"
  // Sent as is, once per block: a whole data frame, or the bare block.
  const unit = files ? frame(dataType, uploadBlock) : uploadBlock
  let replied: (() => void) | undefined
  let reply = Buffer.alloc(0)
  const start = Proc.snapshot(command.serverPid, process.pid)
  const socket = await connect(command.port, 64 * 1024, (n, buffer) => {
    reply = Buffer.concat([reply, buffer.subarray(0, n)])
    replied?.()
  })
  try {
    // The first whole reply: one frame (files), or one line (raw).
    const complete = () => (files ? reply.length >= 4 && reply.length >= 4 + reply.readUInt32BE(0) : reply.includes(10))
    const answer = () =>
      new Promise<string>((resolve, reject) => {
        socket.once("close", () => reject(new Error(`upload: closed; got ${JSON.stringify(reply.toString("latin1"))}`)))
        replied = () => {
          if (complete()) resolve(reply.toString("utf8", files ? 5 : 0))
        }
        replied()
      })
    if (files) {
      const offer = { type: "upload", name: command.name, size: command.bytes, sha256 }
      socket.write(control(offer))
      const accepted = await withDeadline(answer(), 30_000, "upload: accept")
      if (!accepted.includes("\"accept\"")) throw new Error(`upload: ${accepted}`)
      reply = Buffer.alloc(0)
    } else {
      socket.write(`UPLOAD ${command.bytes} ${sha256}\n`)
    }
    const done = withDeadline(answer(), 600_000, "upload: reply")
    done.catch(() => undefined)
    const blocks = command.bytes / uploadBlock.length
    let sent = 0
    await new Promise<void>((resolve, reject) => {
      const pump = () => {
        while (sent < blocks) {
          sent++
          if (!socket.write(unit)) return
        }
        socket.off("drain", pump)
        resolve()
      }
      socket.on("drain", pump)
      socket.once("close", () => reject(new Error("upload: closed while sending")))
      pump()
    })
    const text = await done
    const end = Proc.snapshot(command.serverPid, process.pid)
    if (!(files ? text.includes("\"saved\"") : text.startsWith("saved"))) throw new Error(`upload: ${text}`)
    if (!text.includes(sha256)) throw new Error(`upload: digest differs: ${text}`)
    return { bytes: command.bytes, seconds: (end.at - start.at) / 1000, usage: Proc.usage(start, end), reply: text.trim() }
  } finally {
    await closeAll([socket])
  }
}

// Idle connections stay open across commands until `idle-close`.
const idle: Array<Net.Socket> = []

// Opens connections until `total` are open. Each sends one byte and waits
// for its echo, so the server has set the connection up completely (and
// read from it) before it is counted; then it stays silent.
const idleOpen = async (command: Extract<Command, { cmd: "idle-open" }>) => {
  const wanted = command.total - idle.length
  const open = () =>
    new Promise<Net.Socket>((resolve, reject) => {
      let echoed = false
      connect(command.port, 64, (_n, _buffer, socket) => {
        if (echoed) return
        echoed = true
        resolve(socket)
      }).then((socket) => socket.write("i"), reject)
    })
  const opened = await connectMany(wanted, 250, () => withDeadline(open(), connectTimeoutMs, "idle echo"))
  idle.push(...opened)
  return { open: idle.length }
}

const handle = async (command: Command): Promise<unknown> => {
  switch (command.cmd) {
    case "stream":
      return stream(command)
    case "rr":
      return roundTrips(command)
    case "chat":
      return chat(command)
    case "upload":
      return upload(command)
    case "idle-open":
      return idleOpen(command)
    case "idle-close": {
      const sockets = idle.splice(0)
      await closeAll(sockets)
      return { closed: sockets.length }
    }
    case "exit":
      setImmediate(() => process.exit(0))
      return {}
  }
}

if (process.send === undefined) {
  console.error("bench/load.ts is started by bench/run.ts (it needs an IPC channel)")
  process.exit(2)
}
process.on("message", (message: { readonly id: number; readonly command: Command }) => {
  handle(message.command).then(
    (result) => process.send?.({ id: message.id, ok: true, result }),
    (error: unknown) => process.send?.({ id: message.id, ok: false, error: String((error as Error)?.message ?? error) })
  )
})
process.on("disconnect", () => process.exit(0))
