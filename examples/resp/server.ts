// A Redis-compatible server for a subset of Redis (PING, ECHO, GET, SET,
// DEL, EXISTS, INCR, DECR, EXPIRE, TTL, PUBLISH, SUBSCRIBE, UNSUBSCRIBE,
// QUIT) built only on the packages' public entry points: redis-cli and
// redis-benchmark talk to it as to redis-server, and get the same bytes
// back. See README.md beside it.
//
//   npm run example -- resp --host 127.0.0.1 --port 6380
//   node examples/resp/server.ts --port 0     (with the project's Node)
import { Runner } from "@socket-to-me/node"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { parseArgs } from "node:util"
import * as Channels from "./Channels.ts"
import * as Db from "./Db.ts"
import * as Session from "./Session.ts"

/** The protocol: the session over the RESP codec, with the default limits. */
export const resp = Session.handler()

/** What every connection shares: the keyspace and the pub/sub channels. */
export const layer: Layer.Layer<Db.Db | Channels.Channels> = Layer.mergeAll(Db.layer, Channels.layer)

const usage = `usage: npm run example -- resp [--host HOST] [--port PORT]

A Redis-compatible server (RESP2) for PING, ECHO, GET, SET, DEL, EXISTS,
INCR, DECR, EXPIRE, TTL, PUBLISH, SUBSCRIBE, UNSUBSCRIBE and QUIT.

  --host HOST   address to listen on (default 127.0.0.1)
  --port PORT   TCP port, 0-65535; 0 picks a free one (default 6380)
  --help        this text

Prints "resp listening on HOST:PORT"; Ctrl-C drains it.`

if (import.meta.main) {
  const parsed = (() => {
    try {
      return parseArgs({
        options: { host: { type: "string" }, port: { type: "string" }, help: { type: "boolean" } },
        strict: true
      }).values
    } catch (error) {
      return error instanceof Error ? error.message : String(error)
    }
  })()
  const port = typeof parsed === "string" ? Number.NaN : Number(parsed.port ?? 6380)
  if (typeof parsed !== "string" && parsed.help === true) {
    process.stdout.write(`${usage}\n`)
  } else if (typeof parsed === "string" || !Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(typeof parsed === "string" ? parsed : `port must be between 0 and 65535, got ${parsed.port}`)
    console.error(usage.slice(0, usage.indexOf("\n")))
    process.exitCode = 2
  } else {
    Runner.runMain(Runner.serve(resp, { name: "resp", host: parsed.host ?? "127.0.0.1", port }).pipe(Effect.provide(layer)))
  }
}
