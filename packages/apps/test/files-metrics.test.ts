/**
 * The files server's frames go through core's frame stage, so they are
 * counted in the frame metrics like any framed app's: exact counts after
 * an upload, a download and a listing, over each transport, in a fresh
 * metric registry.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Metrics from "@socket-to-me/core/Metrics"
import * as Bytes from "@socket-to-me/testkit/Bytes"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import * as References from "effect/References"
import * as Stream from "effect/Stream"
import * as Path from "node:path"
import * as Disk from "../src/files/Disk.ts"
import * as FilesClient from "../src/files/FilesClient.ts"
import { serveFiles, tempDirectory, writeLocal } from "./support/files.ts"
import { all as transports } from "@socket-to-me/testkit/TcpTransport"

// Small data frames, so that a small file takes several.
const chunkBytes = 1024

const counted = (counter: typeof Metrics.framesIn, server: string) =>
  Effect.map(Metric.value(Metric.withAttributes(counter, { server })), (state) => Number(state.count))

for (const transport of transports) {
  describe(`files frame metrics over ${transport.name}`, () => {
    it.live("frames in and out are counted for an upload, a download and a listing", () =>
      Effect.gen(function*() {
        const name = `files-metrics-${transport.name}`
        const root = yield* tempDirectory
        const served = yield* serveFiles(transport, { directory: Path.join(root, "received"), chunkBytes }, {
          handler: { chunkBytes },
          server: { name }
        })
        // Three data frames: two full, one of a single byte.
        const local = writeLocal(root, "three.bin", Bytes.random(2 * chunkBytes + 1))
        yield* FilesClient.upload(served.target, local, { chunkBytes })
        yield* FilesClient.download(served.target, "three.bin", { out: Path.join(root, "back.bin"), chunkBytes })
        yield* Stream.runDrain(FilesClient.list(served.target))
        yield* served.server.server.awaitIdle

        assert.deepStrictEqual(
          { in: yield* counted(Metrics.framesIn, name), out: yield* counted(Metrics.framesOut, name) },
          {
            // upload + 3 data; download + start; list.
            in: 4 + 2 + 1,
            // accept + saved; file + 3 data; entry + end.
            out: 2 + 4 + 2
          }
        )
      }).pipe(
        Effect.provide(Disk.layerNode),
        Effect.provideService(References.MinimumLogLevel, "Warn"),
        Effect.provideService(Metric.MetricRegistry, new Map())
      ))
  })
}
