/**
 * Preloaded (`node --import`) into every server the benchmark starts, ours
 * and the references alike, so that each is measured the same way:
 *
 * - `{ type: "memory" }` over the IPC channel forces full garbage collections
 *   (the server runs with `--expose-gc`) and answers with `process.memoryUsage()`.
 * - `{ type: "snapshot", path }` writes a heap snapshot to `path` (read it
 *   with bench/heap.ts) and answers when it is written.
 * - When the benchmark goes away (its IPC channel closes), the server exits:
 *   no server outlives a crashed or interrupted run.
 *
 * It does nothing else: no timer, no listener on the hot path.
 */
import { setImmediate as nextTurn } from "node:timers/promises"
import { writeHeapSnapshot } from "node:v8"

type Request =
  | { readonly type: "memory"; readonly id: number }
  | { readonly type: "snapshot"; readonly id: number; readonly path: string }

const collect = async () => {
  const gc = (globalThis as { gc?: () => void }).gc
  if (gc === undefined) return
  // Two rounds with a turn between: finalizers and weak callbacks released
  // by the first collection are reclaimed by the second.
  for (let i = 0; i < 3; i++) {
    gc()
    await nextTurn()
  }
}

if (process.send !== undefined) {
  process.on("message", (message: Request) => {
    if (message?.type === "memory") {
      void collect().then(() => {
        const usage = process.memoryUsage()
        process.send?.({ type: "memory", id: message.id, ...usage })
      })
    } else if (message?.type === "snapshot") {
      void collect().then(() => {
        writeHeapSnapshot(message.path)
        process.send?.({ type: "snapshot", id: message.id })
      })
    }
  })
  process.on("disconnect", () => process.exit(0))
  // The channel must not keep a server alive by itself.
  const channel = (process as { channel?: { unref(): void } }).channel
  channel?.unref()
}
