// TTL key: seconds left, rounded to the nearest; -1 for a key without a
// TTL, -2 for a missing (or expired) key.
import * as Effect from "effect/Effect"
import * as Db from "../Db.ts"
import * as Reply from "../Reply.ts"
import { name, type Spec } from "./Spec.ts"

/** TTL. */
export const ttl: Spec = {
  name: "ttl",
  arity: 2,
  pubsub: false,
  run: (args, session) => {
    const key = name(args[1]!)
    return Effect.map(
      session.db.modify((keys, now) => {
        const entry = Db.lookup(keys, key, now)
        if (entry === undefined) return [-2n, keys] as const
        if (entry.expiresAt === undefined) return [-1n, keys] as const
        const left = entry.expiresAt - now
        return [((left < 0n ? 0n : left) + 500n) / 1000n, keys] as const
      }),
      (seconds) => session.reply(Reply.integer(seconds))
    )
  }
}
