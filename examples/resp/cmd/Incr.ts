// INCR key and DECR key: the value read as a 64-bit integer (a missing key
// as 0), moved by one and stored back as its decimal text, keeping the
// key's TTL. A value that is not an integer, or a result past the 64-bit
// range, is an error and changes nothing.
import * as Effect from "effect/Effect"
import * as Db from "../Db.ts"
import * as Reply from "../Reply.ts"
import { name, type Spec } from "./Spec.ts"

const overflow = Reply.error("ERR increment or decrement would overflow")

const incrBy = (command: string, by: bigint): Spec => ({
  name: command,
  arity: 2,
  pubsub: false,
  run: (args, session) => {
    const key = name(args[1]!)
    return Effect.map(
      session.db.modify((keys, now): readonly [Reply.Reply, Db.Keyspace] => {
        const entry = Db.lookup(keys, key, now)
        const current = entry === undefined ? 0n : Reply.parseInteger(entry.value)
        if (current === undefined) return [Reply.notAnInteger, keys]
        const next = current + by
        if (next > Reply.maxInt64 || next < Reply.minInt64) return [overflow, keys]
        const value = Reply.latin1(String(next))
        return [Reply.integer(next), Db.put(keys, key, { value, expiresAt: entry?.expiresAt })]
      }),
      session.reply
    )
  }
})

/** INCR. */
export const incr: Spec = incrBy("incr", 1n)

/** DECR. */
export const decr: Spec = incrBy("decr", -1n)
