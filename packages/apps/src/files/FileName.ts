/**
 * File names from peers: which are accepted, and the numbered variants a
 * taken name is saved under.
 *
 * Stage: app (the files store's gate). A name is refused, never rewritten:
 * a client learns exactly why (`InvalidName` with a one-line reason) and
 * chooses another, instead of finding its file under a name it did not
 * pick. Only a plain base name passes: no separators, no `.` or `..`, no
 * leading dot (hidden files, and the store's own `.staging` and `.meta`),
 * no control characters, well-formed Unicode, at most
 * `FilesConfig.maxFileNameBytes` UTF-8 bytes. Such a name joined to the folder
 * can only name an entry directly inside it.
 *
 * @since 0.1.0
 */
import * as Result from "effect/Result"
import * as FilesConfig from "./FilesConfig.ts"

const encoder = new TextEncoder()

// C0 controls (NUL included), DEL and C1 controls.
const controlCharacter = /[\u0000-\u001f\u007f-\u009f]/u
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
 * the last extension is kept apart (`a.tar (1).gz`).
 *
 * @since 0.1.0
 * @category naming
 */
export const numbered = (name: string, n: number): string => {
  if (n === 0) return name
  const dot = name.lastIndexOf(".")
  return dot > 0 ? `${name.slice(0, dot)} (${n})${name.slice(dot)}` : `${name} (${n})`
}
