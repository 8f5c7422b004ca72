/**
 * `chat join`'s terminal without a terminal: what keys do to the typed line
 * (`PromptLine.edit`), what the screen shows after the line is drawn and
 * messages arrive (`PromptLine.draw`, played on the test terminal in
 * support/Screen.ts), and the prompt that follows your nickname and room.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Schema from "effect/Schema"
import * as PromptLine from "../src/cli/PromptLine.ts"
import * as ChatTerminal from "../src/cli/ChatTerminal.ts"
import * as Screen from "./support/Screen.ts"

// A terminal with `prompt` drawn and `text` typed into it key by key, as
// `ChatTerminal` does: each key redraws the line.
const typing = (columns: number, prompt: string, text: string) => {
  const screen = Screen.make(columns)
  let line = PromptLine.empty
  let drawn = PromptLine.initial
  const draw = (above: ReadonlyArray<string> = []) => {
    const next = PromptLine.draw(drawn, { columns, prompt, line }, above)
    drawn = next.drawn
    screen.write(next.output)
  }
  const key = (input: string | undefined, key?: PromptLine.Key) => {
    const edit = PromptLine.edit(line, input, key)
    if (edit._tag === "Edit") line = edit.line
    if (edit._tag === "Submit") {
      const sent = prompt + edit.text
      line = edit.line
      return draw([sent])
    }
    draw()
  }
  draw()
  for (const char of text) key(char)
  return { screen, key, message: (...lines: ReadonlyArray<string>) => draw(lines), line: () => line }
}

// `text` cut into rows of `columns` (ASCII: one column per character).
const rowsOf = (text: string, columns: number): Array<string> => {
  const rows: Array<string> = []
  for (let i = 0; i < text.length; i += columns) rows.push(text.slice(i, i + columns))
  return rows
}

const prompt = "[lobby] ada> "
const hundred = Array.from({ length: 10 }, (_, i) => `${i}123456789`).join("")

describe("chat join's terminal", () => {
  it("a message arriving while a line wider than the terminal is typed goes above all of its rows; the line is redrawn whole below", () => {
    const term = typing(40, prompt, hundred)
    assert.deepStrictEqual(term.screen.rows(), rowsOf(prompt + hundred, 40))
    assert.deepStrictEqual(term.screen.cursor(), { row: 2, column: 33 })

    term.message("<bob> hi there")
    assert.deepStrictEqual(term.screen.rows(), ["<bob> hi there", ...rowsOf(prompt + hundred, 40)])
    assert.deepStrictEqual(term.screen.cursor(), { row: 3, column: 33 })

    // Another, and a long one that wraps itself: nothing is lost, nothing garbled.
    const long = `<carol> ${"x".repeat(70)}`
    term.message("* dave joined lobby", long)
    assert.deepStrictEqual(term.screen.rows(), [
      "<bob> hi there",
      "* dave joined lobby",
      ...rowsOf(long, 40),
      ...rowsOf(prompt + hundred, 40)
    ])
    assert.deepStrictEqual(term.screen.cursor(), { row: 6, column: 33 })
  })

  it("the cursor keeps its place in the text across a message, on whichever row it is", () => {
    const term = typing(40, prompt, hundred)
    for (let i = 0; i < 60; i++) term.key(undefined, { name: "left" })
    // 13 + 40 = 53 columns in: row 1, column 13.
    assert.deepStrictEqual(term.screen.cursor(), { row: 1, column: 13 })
    term.message("<bob> hi")
    assert.deepStrictEqual(term.screen.rows(), ["<bob> hi", ...rowsOf(prompt + hundred, 40)])
    assert.deepStrictEqual(term.screen.cursor(), { row: 2, column: 13 })
    // Typing there inserts there.
    term.key("!")
    assert.deepStrictEqual(term.screen.rows(), ["<bob> hi", ...rowsOf(`${prompt}${hundred.slice(0, 40)}!${hundred.slice(40)}`, 40)])
    assert.deepStrictEqual(term.screen.cursor(), { row: 2, column: 14 })
  })

  it("a line that ends exactly at the last column puts the cursor on the next row, and a message still goes above it", () => {
    const text = "y".repeat(80 - prompt.length)
    const term = typing(40, prompt, text)
    assert.deepStrictEqual(term.screen.rows(), rowsOf(prompt + text, 40))
    assert.deepStrictEqual(term.screen.cursor(), { row: 2, column: 0 })
    term.message("<bob> hi")
    assert.deepStrictEqual(term.screen.rows(), ["<bob> hi", ...rowsOf(prompt + text, 40)])
    assert.deepStrictEqual(term.screen.cursor(), { row: 3, column: 0 })
    term.key(undefined, { name: "backspace" })
    assert.deepStrictEqual(term.screen.rows(), ["<bob> hi", ...rowsOf(prompt + text.slice(1), 40)])
    assert.deepStrictEqual(term.screen.cursor(), { row: 2, column: 39 })
  })

  it("Enter leaves the line sent on the screen, as it looked, and starts an empty one below", () => {
    const term = typing(40, prompt, hundred)
    term.key("\r", { name: "return" })
    assert.deepStrictEqual(term.screen.rows(), [...rowsOf(prompt + hundred, 40), prompt.trimEnd()])
    assert.deepStrictEqual(term.screen.cursor(), { row: 3, column: prompt.length })
    term.message("<bob> got it")
    assert.deepStrictEqual(term.screen.rows(), [...rowsOf(prompt + hundred, 40), "<bob> got it", prompt.trimEnd()])
  })

  it("wide characters that do not fit at the end of a row start the next one, as on the terminal", () => {
    // 13 + 26 = 39: the first wide character would take columns 39 and 40.
    const text = `${"a".repeat(26)}漢字${"b".repeat(10)}`
    const term = typing(40, prompt, text)
    assert.deepStrictEqual(term.screen.rows(), [`${prompt}${"a".repeat(26)}`, `漢字${"b".repeat(10)}`])
    assert.deepStrictEqual(term.screen.cursor(), { row: 1, column: 14 })
    term.message("<bob> 你好")
    assert.deepStrictEqual(term.screen.rows(), ["<bob> 你好", `${prompt}${"a".repeat(26)}`, `漢字${"b".repeat(10)}`])
    assert.deepStrictEqual(term.screen.cursor(), { row: 2, column: 14 })
  })

  const Columns = Schema.Int.check(Schema.isBetween({ minimum: 8, maximum: 90 }))
  const alphabet = [..."abc xyz-", "漢", "字", "é", "e\u0301"]
  // Arbitrary text drawn from `alphabet` (ASCII, wide, combining).
  const pick = (codes: string) => [...codes].map((char) => alphabet[char.codePointAt(0)! % alphabet.length]).join("")

  it.prop(
    "after any typing and messages, the screen is the messages, then the typed line, as if each were written once",
    [Columns, Schema.String, Schema.Array(Schema.String), Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 200 }))],
    ([columns, typed, messages, left]) => {
      const text = pick(typed)
      const term = typing(columns, prompt, text)
      for (let i = 0; i < left; i++) term.key(undefined, { name: "left" })
      const shown = messages.map((message) => `<bob> ${pick(message)}`)
      for (const message of shown) term.message(message)
      // The same, written in one go on a fresh terminal.
      const ideal = Screen.make(columns)
      ideal.write(shown.map((message) => `${message}\r\n`).join("") + prompt + text)
      assert.deepStrictEqual(term.screen.rows(), ideal.rows())
      // The cursor is where the text before it ends, counted from the row
      // the prompt starts on (the one after the messages).
      const messagesOnly = Screen.make(columns)
      messagesOnly.write(shown.map((message) => `${message}\r\n`).join(""))
      const at = PromptLine.position(prompt + term.line().text.slice(0, term.line().cursor), columns)
      assert.deepStrictEqual(term.screen.cursor(), { row: messagesOnly.cursor().row + at.row, column: at.column })
    },
    { arbitrary: { runs: 300 } }
  )

  it("keys edit the line the way shells do", () => {
    const apply = (line: PromptLine.Line, ...keys: ReadonlyArray<[string | undefined, PromptLine.Key?]>) =>
      keys.reduce((line, [input, key]) => {
        const edit = PromptLine.edit(line, input, key)
        return edit._tag === "Edit" || edit._tag === "Submit" ? edit.line : line
      }, line)
    const typed = (text: string) => apply(PromptLine.empty, ...[...text].map((char): [string] => [char]))
    assert.deepStrictEqual(apply(typed("hi 😀"), [undefined, { name: "backspace" }]).text, "hi ")
    assert.deepStrictEqual(apply(typed("one two"), [undefined, { name: "w", ctrl: true }]).text, "one ")
    assert.deepStrictEqual(
      apply(typed("one two"), [undefined, { name: "left" }], [undefined, { name: "u", ctrl: true }]),
      { ...PromptLine.empty, text: "o", cursor: 0 }
    )
    assert.deepStrictEqual(apply(typed("a\u001b[2Jb\tc"), [undefined, { name: "home" }]).text, "a[2Jb c")
    assert.deepStrictEqual(PromptLine.edit(PromptLine.empty, "\u0004", { name: "d", ctrl: true })._tag, "EndOfInput")
    assert.deepStrictEqual(PromptLine.edit(typed("x"), "\u0003", { name: "c", ctrl: true })._tag, "Interrupt")
    const submitted = PromptLine.edit(typed("first"), "\r", { name: "return" })
    assert.deepStrictEqual(submitted._tag === "Submit" ? submitted.text : "", "first")
    // History: up recalls, down comes back to what was being typed.
    const sent = apply(typed("first"), ["\r", { name: "return" }], ..."second".split("").map((c): [string] => [c]), [
      "\r",
      { name: "return" }
    ])
    const draft = apply(sent, ["d"])
    assert.strictEqual(apply(draft, [undefined, { name: "up" }]).text, "second")
    assert.strictEqual(apply(draft, [undefined, { name: "up" }], [undefined, { name: "up" }]).text, "first")
    assert.strictEqual(apply(draft, [undefined, { name: "up" }], [undefined, { name: "down" }]).text, "d")
  })

  it("the prompt shows your room and nickname, and follows the server's lines about you only", () => {
    let place: ChatTerminal.Place = { nick: "ada", room: "lobby" }
    assert.strictEqual(ChatTerminal.prompt(place), "[lobby] ada> ")
    place = ChatTerminal.follow(place, "* you joined dev")
    place = ChatTerminal.follow(place, "* you are now Ada_2")
    assert.strictEqual(ChatTerminal.prompt(place), "[dev] Ada_2> ")
    // Someone else's lines, and a message that reads like a server line.
    for (const line of ["* bob joined ops", "* bob is now ada", "<bob> * you joined evil", "*bob* * you are now x"]) {
      place = ChatTerminal.follow(place, line)
    }
    assert.strictEqual(ChatTerminal.prompt(place), "[dev] Ada_2> ")
  })
})
