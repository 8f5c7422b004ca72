/**
 * File names from peers: which are accepted, and the numbered variants a
 * taken name is saved under.
 *
 * Stage: app (the files store's gate). A name is refused, never rewritten:
 * a client learns exactly why (`InvalidName` with a one-line reason) and
 * chooses another, instead of finding its file under a name it did not
 * pick. Only a plain base name passes: no separators, no `.` or `..`, no
 * leading dot (hidden files, and the store's own `.staging` and `.meta`),
 * no control characters, no invisible formatting characters (bidirectional
 * overrides can make `invoice\u202Efdp.exe` display as `invoiceexe.pdf`,
 * and chat strips them, so a name said in chat would not be the name
 * saved), well-formed Unicode, at most `FilesConfig.maxFileNameBytes` UTF-8
 * bytes. Such a name joined to the folder can only name an entry directly
 * inside it.
 *
 * The same rules decide what is listed and served, and the numbered
 * variants a taken name is saved under keep within them, so every file the
 * server saves can be listed and fetched by its name.
 *
 * @since 0.1.0
 */
import * as Result from "effect/Result"
import * as FilesConfig from "./FilesConfig.ts"

const encoder = new TextEncoder()

// C0 controls (NUL included), DEL and C1 controls.
const controlCharacter = /[\u0000-\u001f\u007f-\u009f]/u
// Format characters (bidirectional marks, overrides and isolates,
// zero-width spaces, BOM, soft hyphen, tag characters) and the line and
// paragraph separators: invisible, or line breaks in disguise. ZERO WIDTH
// NON-JOINER and JOINER are kept: Persian and Indic scripts and emoji
// sequences need them.
const invisibleCharacter = /(?![\u200c\u200d])[\p{Cf}\p{Zl}\p{Zp}]/u
// In `u` mode a surrogate pair is one code point, so this matches only lone
// surrogates, which no file system can store faithfully.
const loneSurrogate = /\p{Cs}/u

/**
 * Checks `name`; the error is a one-line reason for a human.
 *
 * @since 0.1.0
 * @category validation
 */
export const validate = (
  name: string,
  maxBytes: number = FilesConfig.maxFileNameBytes
): Result.Result<string, string> => {
  if (name.length === 0) return Result.fail("the name is empty")
  if (name === "." || name === "..") return Result.fail("\".\" and \"..\" are not file names")
  if (name.includes("/") || name.includes("\\")) {
    return Result.fail("only a plain file name is accepted, without \"/\" or \"\\\"")
  }
  if (name.includes("\u0000")) return Result.fail("the name contains a NUL character")
  if (controlCharacter.test(name)) return Result.fail("the name contains control characters")
  if (invisibleCharacter.test(name)) {
    return Result.fail("the name contains invisible formatting characters (bidirectional controls, zero-width or separator characters)")
  }
  if (loneSurrogate.test(name)) return Result.fail("the name is not well-formed Unicode")
  if (name.startsWith(".")) return Result.fail("names starting with \".\" are reserved (hidden files)")
  const bytes = encoder.encode(name).length
  if (bytes > maxBytes) return Result.fail(`the name is ${bytes} bytes long; the limit is ${maxBytes}`)
  return Result.succeed(name)
}

/**
 * Whether `name` passes {@link validate}.
 *
 * @since 0.1.0
 * @category validation
 */
export const isValid = (name: string, maxBytes?: number): boolean => Result.isSuccess(validate(name, maxBytes))

/**
 * The `n`th variant of a taken name: `report.pdf` becomes `report (1).pdf`;
 * a name without an extension gets the suffix at its end (`notes (1)`). Only
 * the last extension is kept apart (`a.tar (1).gz`). A variant that would
 * pass `maxBytes` has its stem shortened by whole characters to fit (an
 * extension too long to keep is treated as part of the stem), so a variant
 * of a valid name is valid.
 *
 * @since 0.1.0
 * @category naming
 */
export const numbered = (name: string, n: number, maxBytes: number = FilesConfig.maxFileNameBytes): string => {
  if (n === 0) return name
  const suffix = ` (${n})`
  const dot = name.lastIndexOf(".")
  const keepsExtension = dot > 0 && byteLength(name.slice(dot)) + byteLength(suffix) < maxBytes
  const stem = keepsExtension ? name.slice(0, dot) : name
  const extension = keepsExtension ? name.slice(dot) : ""
  return truncate(stem, maxBytes - byteLength(suffix) - byteLength(extension)) + suffix + extension
}

const byteLength = (text: string): number => encoder.encode(text).length

// The longest prefix of `text` of at most `maxBytes` UTF-8 bytes that ends
// between code points (a surrogate pair is never split).
const truncate = (text: string, maxBytes: number): string => {
  let bytes = 0
  let end = 0
  for (const character of text) {
    const size = byteLength(character)
    if (bytes + size > maxBytes) break
    bytes += size
    end += character.length
  }
  return text.slice(0, end)
}
