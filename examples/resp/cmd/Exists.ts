// EXISTS key [key ...]: how many of the keys exist, a key named twice
// counted twice.
import * as Effect from "effect/Effect"
import * as Db from "../Db.ts"
import * as Reply from "../Reply.ts"
import { name, type Spec } from "./Spec.ts"

/** EXISTS. */
export const exists: Spec = {
  name: "exists",
  arity: -2,
  pubsub: false,
  run: (args, session) => {
    const names = args.slice(1).map(name)
    return Effect.map(
      session.db.modify((keys, now) => [names.filter((key) => Db.lookup(keys, key, now) !== undefined).length, keys] as const),
      (count) => session.reply(Reply.integer(count))
    )
  }
}
