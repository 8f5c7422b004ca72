// Chapter 6 of the tutorial (docs/tutorial/06-testing.md): testing. The
// subject is a small key-value server over lines, shared by every
// connection, whose keys may expire: state, time and a protocol, which is
// what the chapter's tests need.
//
//   SET key value [seconds]  ->  OK             (expires after `seconds`, if given)
//   GET key                  ->  value | (nil)
//   DEL key                  ->  1 | 0          (whether there was a live key)
import { Framing, LineCodec } from "@socket-to-me/core"
import { Runner } from "@socket-to-me/node"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Ref from "effect/Ref"
import * as Stream from "effect/Stream"

// #region store
/** A value, and the `Clock` time (in milliseconds) it expires at, if it does. */
interface Entry {
  readonly value: string
  readonly expiresAt: number | undefined
}

/** The keyspace every connection shares. */
export type Store = Ref.Ref<ReadonlyMap<string, Entry>>

/** An empty keyspace. */
export const makeStore: Effect.Effect<Store> = Ref.make<ReadonlyMap<string, Entry>>(new Map())

const live = (entry: Entry | undefined, now: number): Entry | undefined =>
  entry !== undefined && (entry.expiresAt === undefined || now < entry.expiresAt) ? entry : undefined

/** Runs one command line and gives its reply; each command is one atomic step on the store. */
export const execute = (store: Store, line: string): Effect.Effect<string> =>
  Effect.flatMap(Clock.currentTimeMillis, (now) =>
    Ref.modify(store, (entries): readonly [string, ReadonlyMap<string, Entry>] => {
      const [command = "", key, value, seconds, ...extra] = line.split(" ")
      const ttl = seconds === undefined ? undefined : Number(seconds)
      switch (command.toUpperCase()) {
        case "SET":
          if (key === undefined || value === undefined || extra.length > 0) return ["ERR wrong arguments", entries]
          if (ttl !== undefined && !(Number.isInteger(ttl) && ttl > 0)) return ["ERR bad time to live", entries]
          return ["OK", new Map(entries).set(key, { value, expiresAt: ttl === undefined ? undefined : now + ttl * 1000 })]
        case "GET":
          if (key === undefined || value !== undefined) return ["ERR wrong arguments", entries]
          return [live(entries.get(key), now)?.value ?? "(nil)", entries]
        case "DEL": {
          if (key === undefined || value !== undefined) return ["ERR wrong arguments", entries]
          const rest = new Map(entries)
          rest.delete(key)
          return [live(entries.get(key), now) === undefined ? "0" : "1", rest]
        }
        default:
          return ["ERR unknown command", entries]
      }
    }))
// #endregion store

// #region handler
/** The protocol: each line is a command, answered by one line, in order. */
export const kv = (store: Store) =>
  Framing.handler(LineCodec.make({ maxLineBytes: 4096 }), (lines) => Stream.mapEffect(lines, (line) => execute(store, line)))
// #endregion handler

if (import.meta.main) {
  const port = Number(process.env.PORT ?? 7024)
  // Prints `kv listening on 127.0.0.1:7024`; Ctrl-C drains.
  Runner.runMain(Effect.flatMap(makeStore, (store) => Runner.serve(kv(store), { name: "kv", host: "127.0.0.1", port })))
}
