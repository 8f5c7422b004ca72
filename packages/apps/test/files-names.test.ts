/**
 * File names from peers: the rules of `FileName` and, over 1,000 generated
 * hostile names, that the store never touches anything outside its folder.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Arbitrary from "effect/Arbitrary"
import * as Effect from "effect/Effect"
import * as References from "effect/References"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import * as Fs from "node:fs"
import * as Path from "node:path"
import * as Disk from "../src/files/Disk.ts"
import * as FileName from "../src/files/FileName.ts"
import * as FilesConfig from "../src/files/FilesConfig.ts"
import * as FileStore from "../src/files/FileStore.ts"
import { sha256, tempDirectory, walk } from "./support/files.ts"

// Pieces hostile names are made of: separators, dot segments, absolute
// prefixes, NUL and other controls, lone surrogates, Windows forms, long
// runs, plus ordinary text so that some results are valid.
const piece = Arbitrary.schema(Schema.Literals([
  "..", ".", "/", "\\", "../", "..\\", "/etc/passwd", "C:\\", "\u0000", "\n", "\r", "\t", "\u001b[2J", "\u007f",
  "\u0085", "\ud800", "\udfff", "~", " ", "%2e%2e%2f", "\u2215", "\uff0f", "\u202e", "x".repeat(120), "é".repeat(70),
  "report", ".pdf", "a", "日本語", "😀", "(1)", "con", "nul", "-", "$HOME", "*"
]))

const hostileName = Arbitrary.all([
  Arbitrary.array(piece, { maxLength: 6 }),
  Arbitrary.schema(Schema.String),
  Arbitrary.schema(Schema.Literals(["pieces", "random", "both"]))
]).pipe(Arbitrary.map(([pieces, random, mode]) =>
  mode === "pieces" ? pieces.join("") : mode === "random" ? random : pieces.join("") + random
))

describe("FileName", () => {
  it("accepts plain names and refuses everything that is not one, with a reason", () => {
    for (const name of ["report.pdf", "a", "日本語.txt", "😀", "with space", "x".repeat(200), "é".repeat(100)]) {
      assert.isTrue(FileName.isValid(name), name)
    }
    const refused: Array<[string, string]> = [
      ["", "empty"],
      [".", "not file names"],
      ["..", "not file names"],
      ["a/b", "plain file name"],
      ["a\\b", "plain file name"],
      ["/etc/passwd", "plain file name"],
      ["a\u0000b", "NUL"],
      ["a\nb", "control"],
      ["a\u0085b", "control"],
      ["\ud800x", "well-formed"],
      [".hidden", "reserved"],
      ["x".repeat(201), "201 bytes long; the limit is 200"],
      ["é".repeat(101), "202 bytes long"]
    ]
    for (const [name, reason] of refused) {
      const result = FileName.validate(name)
      assert.isTrue(Result.isFailure(result) && result.failure.includes(reason), `${JSON.stringify(name)}: ${reason}`)
    }
  })

  it("refuses bidirectional and other invisible format characters; keeps the joiners scripts and emoji need", () => {
    const invisible = [
      "invoice\u202efdp.exe", // RIGHT-TO-LEFT OVERRIDE: shows as "invoiceexe.pdf"
      "a\u200eb",
      "a\u200fb",
      "a\u202ab",
      "a\u2066b\u2069",
      "a\u061cb",
      "zero\u200bwidth",
      "\ufeffbom",
      "soft\u00adhyphen",
      "tag\u{e0041}s",
      "line\u2028separator",
      "para\u2029separator"
    ]
    for (const name of invisible) {
      const result = FileName.validate(name)
      assert.isTrue(Result.isFailure(result) && result.failure.includes("invisible"), JSON.stringify(name))
    }
    // ZERO WIDTH JOINER in an emoji sequence, ZERO WIDTH NON-JOINER in Persian.
    for (const name of ["\u{1f468}\u200d\u{1f469}\u200d\u{1f467}.png", "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645.txt"]) {
      assert.isTrue(FileName.isValid(name), JSON.stringify(name))
    }
  })

  it("numbers taken names before the extension", () => {
    assert.strictEqual(FileName.numbered("report.pdf", 0), "report.pdf")
    assert.strictEqual(FileName.numbered("report.pdf", 1), "report (1).pdf")
    assert.strictEqual(FileName.numbered("archive.tar.gz", 2), "archive.tar (2).gz")
    assert.strictEqual(FileName.numbered("notes", 3), "notes (3)")
  })

  it("a numbered variant fits the name limit: the stem is shortened, by whole characters, never the number or extension", () => {
    assert.strictEqual(FileName.numbered("x".repeat(200), 1), "x".repeat(196) + " (1)")
    assert.strictEqual(FileName.numbered("x".repeat(196) + ".pdf", 1000), "x".repeat(189) + " (1000).pdf")
    // Two-byte characters: never cut in half.
    assert.strictEqual(FileName.numbered("\u00e9".repeat(100), 7), "\u00e9".repeat(98) + " (7)")
    // A surrogate pair (four UTF-8 bytes) is one character.
    assert.strictEqual(FileName.numbered("\u{1f600}".repeat(50), 1), "\u{1f600}".repeat(49) + " (1)")
    assert.strictEqual(FileName.numbered("x".repeat(50), 1, 20), "x".repeat(16) + " (1)")
    for (const name of ["x".repeat(200), "a." + "x".repeat(198), "\u00e9".repeat(100), "report.pdf"]) {
      for (const n of [1, 9, 10, 999, FilesConfig.maxFileNameCopies]) {
        const variant = FileName.numbered(name, n)
        assert.isTrue(FileName.isValid(variant), `${name} (${n}): ${variant}`)
        assert.include(variant, `(${n})`)
      }
    }
  })

  it.live("1,000 generated hostile names: each is refused as invalid or saved directly in the folder; nothing lands outside", () =>
    Effect.gen(function*() {
      const root = yield* tempDirectory
      const directory = Path.join(root, "received")
      const store = yield* FileStore.make({ directory })
      const content = Uint8Array.of(42)
      const digest = sha256(content)
      let accepted = 0
      const result = yield* Arbitrary.checkEffect(
        hostileName,
        (name) =>
          Effect.scoped(Effect.gen(function*() {
            const outcome = yield* Effect.result(Effect.gen(function*() {
              const upload = yield* store.upload({ name, size: 1, sha256: digest })
              yield* upload.write([content])
              return yield* upload.complete
            }))
            if (Result.isFailure(outcome)) {
              // Refused exactly when the rules say so, as an invalid name.
              return !FileName.isValid(name) && outcome.failure.reason._tag === "InvalidName"
            }
            accepted++
            const saved = outcome.success.name
            const path = Path.join(store.directory, saved)
            return FileName.isValid(name) &&
              Path.dirname(path) === store.directory &&
              Path.basename(path) === saved &&
              // The offered name, or one of its numbered variants.
              Array.from({ length: accepted }, (_, n) => FileName.numbered(name, n)).includes(saved) &&
              FileName.isValid(saved) &&
              Fs.readFileSync(path)[0] === 42
          })),
        { runs: 1000 }
      )
      assert.strictEqual(result._tag, "Passed", Arbitrary.formatCheckFailure(result))
      assert.isAbove(accepted, 50, "the generator also produces valid names")
      // Outside the folder: nothing but the folder itself.
      assert.deepStrictEqual(Fs.readdirSync(root), ["received"])
      // Inside: the store's two subfolders (the staging one empty), and files
      // directly in the folder, one per accepted upload.
      const inside = walk(directory)
      const files = inside.filter((entry) => !entry.startsWith(FileStore.stagingFolder) && !entry.startsWith(FileStore.metaFolder))
      assert.strictEqual(files.length, accepted)
      for (const file of files) {
        assert.strictEqual(Path.basename(file), file)
        assert.isTrue(Fs.lstatSync(Path.join(directory, file)).isFile())
      }
      assert.deepStrictEqual(Fs.readdirSync(Path.join(directory, FileStore.stagingFolder)), [])
    }).pipe(Effect.provide(Disk.layerNode), Effect.provideService(References.MinimumLogLevel, "Warn")), 60_000)
})
