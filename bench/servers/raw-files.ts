/**
 * Reference server: an upload receiver with nothing but `node:net` and
 * `node:fs`, doing the same work as our files server for one upload: the
 * socket is piped into a file (with Node's backpressure: pause while the
 * file is behind, resume on drain) while a SHA-256 is computed over the
 * bytes; at the end the file is fsynced, its hash checked against the
 * offer, and it is renamed into place. Then it answers.
 *
 * Protocol (bench only): the client sends `UPLOAD SIZE SHA256\n` and SIZE
 * bytes; the server answers `saved SHA256\n` or `error REASON\n` and closes.
 *
 * Usage: node bench/servers/raw-files.ts DIR [PORT]; prints `raw-files listening on HOST:PORT`.
 */
import { createHash } from "node:crypto"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Path from "node:path"

// Output of a command-line program (lint keeps console.log for the CLI).
const print = (line: string) => process.stdout.write(`${line}\n`)

const directory = process.argv[2]
if (directory === undefined) {
  console.error("usage: node bench/servers/raw-files.ts DIR [PORT]")
  process.exit(2)
}
Fs.mkdirSync(directory, { recursive: true })
let uploads = 0

const receive = (socket: Net.Socket, size: number, sha256: string, first: Buffer) => {
  const id = ++uploads
  const staging = Path.join(directory, `.upload-${process.pid}-${id}.part`)
  // autoClose off: the descriptor must outlive `finish` for the fsync.
  const file = Fs.createWriteStream(staging, { flags: "wx", autoClose: false })
  const fd = () => (file as unknown as { readonly fd: number | null }).fd
  let closed = false
  const hash = createHash("sha256")
  let received = 0
  const fail = (reason: string) => {
    socket.end(`error ${reason}\n`)
    const descriptor = fd()
    file.destroy()
    if (descriptor !== null && !closed) {
      closed = true
      Fs.close(descriptor, () => undefined)
    }
    Fs.rm(staging, { force: true }, () => undefined)
  }
  const onData = (chunk: Buffer) => {
    if (received + chunk.length > size) return fail("size-mismatch")
    received += chunk.length
    hash.update(chunk)
    if (!file.write(chunk)) {
      socket.pause()
      file.once("drain", () => socket.resume())
    }
    if (received === size) {
      socket.off("data", onData)
      file.end()
    }
  }
  file.on("error", () => fail("storage-failed"))
  file.on("finish", () => {
    // Durable before visible, as ours: fsync, then the atomic rename.
    const descriptor = fd()!
    Fs.fsync(descriptor, (error) => {
      if (error) return fail("storage-failed")
      closed = true
      Fs.close(descriptor, () => {
        const digest = hash.digest("hex")
        if (digest !== sha256) return fail("checksum-mismatch")
        Fs.rename(staging, Path.join(directory, `upload-${id}`), (renameError) => {
          if (renameError) return fail("storage-failed")
          socket.end(`saved ${digest}\n`)
        })
      })
    })
  })
  file.once("open", () => {
    socket.on("data", onData)
    if (first.length > 0) onData(first)
    socket.resume()
  })
  if (size === 0) file.end()
}

const server = Net.createServer({ allowHalfOpen: true, noDelay: true }, (socket) => {
  socket.on("error", () => socket.destroy())
  let header = Buffer.alloc(0)
  const onHeader = (chunk: Buffer) => {
    header = Buffer.concat([header, chunk])
    const end = header.indexOf(10)
    if (end < 0) {
      if (header.length > 200) socket.destroy()
      return
    }
    socket.off("data", onHeader)
    socket.pause()
    const [verb, size, sha256] = header.subarray(0, end).toString("utf8").split(" ")
    if (verb !== "UPLOAD" || !Number.isSafeInteger(Number(size)) || sha256 === undefined) {
      socket.end("error bad-request\n")
      return
    }
    receive(socket, Number(size), sha256, header.subarray(end + 1))
  }
  socket.on("data", onHeader)
})
server.listen({ host: "127.0.0.1", port: Number(process.argv[3] ?? 0) }, () => {
  const address = server.address() as Net.AddressInfo
  print(`raw-files listening on ${address.address}:${address.port}`)
})
const stop = () => process.exit(0)
process.on("SIGTERM", stop)
process.on("SIGINT", stop)
