// DEL key [key ...]: removes the keys; how many existed (a key named twice
// counts once: it is gone the second time).
import * as Effect from "effect/Effect"
import * as Db from "../Db.ts"
import * as Reply from "../Reply.ts"
import { name, type Spec } from "./Spec.ts"

/** DEL. */
export const del: Spec = {
  name: "del",
  arity: -2,
  pubsub: false,
  run: (args, session) => {
    const names = args.slice(1).map(name)
    return Effect.map(
      session.db.modify((keys, now) => {
        let removed = 0
        let next = keys
        for (const key of names) {
          if (Db.lookup(next, key, now) !== undefined) removed++
          // An expired key still held goes too, uncounted.
          next = Db.remove(next, key)
        }
        return [removed, next] as const
      }),
      (removed) => session.reply(Reply.integer(removed))
    )
  }
}
