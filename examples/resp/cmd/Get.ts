// GET key: the value as a bulk string, or the null bulk string when the key
// is missing or expired.
import * as Effect from "effect/Effect"
import * as Db from "../Db.ts"
import * as Reply from "../Reply.ts"
import { name, type Spec } from "./Spec.ts"

/** GET. */
export const get: Spec = {
  name: "get",
  arity: 2,
  pubsub: false,
  run: (args, session) => {
    const key = name(args[1]!)
    return Effect.map(
      session.db.modify((keys, now) => [Db.lookup(keys, key, now), keys] as const),
      (entry) => session.reply(entry === undefined ? Reply.nullBulk : Reply.bulk(entry.value))
    )
  }
}
