/**
 * The line a user types at the bottom of `chat join`'s terminal, with the
 * lines that arrive printed above it: how a key changes it (`edit`) and the
 * escape sequences that put it on the screen (`draw`), as pure functions
 * of their inputs, so that what the screen shows can be checked without a
 * terminal.
 *
 * Stage: the CLI's edge, without touching it: `ChatTerminal` feeds keys in
 * and writes the output out.
 *
 * Why not let `node:readline` draw the line: it knows only the rows of its
 * own prompt, and clearing "the current line" before printing a message
 * clears one row of a typed line wider than the terminal. The rest stays
 * on screen, garbled, and readline's redraw then moves up over the rows it
 * believes are its own, which now hold the message, and erases it. Here
 * the typed line is drawn from a record of where it starts (`Drawn`), so a
 * message goes above all of its rows, whatever their number.
 *
 * @since 0.1.0
 */

/**
 * Text being typed and the cursor in it (a UTF-16 index, always at the
 * boundary of a code point), with the lines sent before it (newest last)
 * for recalling with the arrow keys.
 *
 * @since 0.1.0
 * @category models
 */
export interface Line {
  readonly text: string
  readonly cursor: number
  readonly history: ReadonlyArray<string>
  /** Position in `history` while recalling; `history.length` when editing a new line. */
  readonly recalled: number
  /** The new line being written when recalling started, restored past the newest entry. */
  readonly draft: string
}

/**
 * Nothing typed, no history.
 *
 * @since 0.1.0
 * @category constructors
 */
export const empty: Line = { text: "", cursor: 0, history: [], recalled: 0, draft: "" }

/**
 * Lines kept for recalling: enough for a conversation, bounded.
 *
 * @since 0.1.0
 * @category defaults
 */
export const historySize = 100

/**
 * A key as `node:readline`'s `emitKeypressEvents` reports it.
 *
 * @since 0.1.0
 * @category models
 */
export interface Key {
  readonly name?: string | undefined
  readonly ctrl?: boolean | undefined
  readonly meta?: boolean | undefined
}

/**
 * What a key does: the line changes (or not), a line is sent (Enter), or
 * the user wants to leave (Ctrl-D on an empty line, Ctrl-C).
 *
 * @since 0.1.0
 * @category models
 */
export type Edit =
  | { readonly _tag: "Edit"; readonly line: Line }
  | { readonly _tag: "Submit"; readonly text: string; readonly line: Line }
  | { readonly _tag: "EndOfInput" }
  | { readonly _tag: "Interrupt" }

const controls = /[\u0000-\u001f\u007f-\u009f]/

const at = (line: Line, text: string, cursor: number): Edit => ({
  _tag: "Edit",
  line: { ...line, text, cursor, recalled: line.history.length, draft: "" }
})

const moveTo = (line: Line, cursor: number): Edit => ({ _tag: "Edit", line: { ...line, cursor } })

// Code point boundaries next to the cursor.
const before = (text: string, cursor: number): number =>
  cursor === 0 ? 0 : cursor - (cursor >= 2 && isLowSurrogate(text, cursor - 1) && isHighSurrogate(text, cursor - 2) ? 2 : 1)
const after = (text: string, cursor: number): number =>
  cursor >= text.length ? text.length : cursor + (isHighSurrogate(text, cursor) && isLowSurrogate(text, cursor + 1) ? 2 : 1)
const isHighSurrogate = (text: string, i: number) => {
  const c = text.charCodeAt(i)
  return c >= 0xd800 && c <= 0xdbff
}
const isLowSurrogate = (text: string, i: number) => {
  const c = text.charCodeAt(i)
  return c >= 0xdc00 && c <= 0xdfff
}

// Start of the word before the cursor (Ctrl-W): spaces, then non-spaces.
const wordStart = (text: string, cursor: number): number => {
  let i = cursor
  while (i > 0 && text[i - 1] === " ") i--
  while (i > 0 && text[i - 1] !== " ") i--
  return i
}

const recall = (line: Line, index: number): Edit => {
  if (index < 0 || index > line.history.length || index === line.recalled) return { _tag: "Edit", line }
  const draft = line.recalled === line.history.length ? line.text : line.draft
  const text = index === line.history.length ? draft : line.history[index]!
  return { _tag: "Edit", line: { ...line, text, cursor: text.length, recalled: index, draft } }
}

/**
 * Applies one key: `input` is the text it produced (a character, or the
 * whole of a paste Node could not split into keys), `key` what it was.
 * Printable text is inserted at the cursor; control keys edit the way
 * shells do (Backspace, Delete, arrows, Home/End, Ctrl-A/E/U/K/W, Up/Down
 * through the history); anything else leaves the line as it is.
 *
 * @since 0.1.0
 * @category editing
 */
export const edit = (line: Line, input: string | undefined, key: Key | undefined): Edit => {
  const { cursor, text } = line
  const name = key?.name
  if (key?.ctrl === true) {
    switch (name) {
      case "c":
        return { _tag: "Interrupt" }
      case "d":
        return text === "" ? { _tag: "EndOfInput" } : at(line, text.slice(0, cursor) + text.slice(after(text, cursor)), cursor)
      case "a":
        return moveTo(line, 0)
      case "e":
        return moveTo(line, text.length)
      case "b":
        return moveTo(line, before(text, cursor))
      case "f":
        return moveTo(line, after(text, cursor))
      case "u":
        return at(line, text.slice(cursor), 0)
      case "k":
        return at(line, text.slice(0, cursor), cursor)
      case "w": {
        const start = wordStart(text, cursor)
        return at(line, text.slice(0, start) + text.slice(cursor), start)
      }
      case "h":
        break
      default:
        return { _tag: "Edit", line }
    }
  }
  switch (name) {
    case "return":
    case "enter": {
      const history = text.trim() === "" ? line.history : [...line.history, text].slice(-historySize)
      return { _tag: "Submit", text, line: { ...empty, history, recalled: history.length } }
    }
    case "backspace": {
      const start = before(text, cursor)
      return at(line, text.slice(0, start) + text.slice(cursor), start)
    }
    case "delete":
      return at(line, text.slice(0, cursor) + text.slice(after(text, cursor)), cursor)
    case "left":
      return moveTo(line, before(text, cursor))
    case "right":
      return moveTo(line, after(text, cursor))
    case "home":
      return moveTo(line, 0)
    case "end":
      return moveTo(line, text.length)
    case "up":
      return recall(line, line.recalled - 1)
    case "down":
      return recall(line, line.recalled + 1)
  }
  if (key?.meta === true || input === undefined || input === "") return { _tag: "Edit", line }
  // A tab is a space, as the server makes it; other controls are dropped.
  const typed = [...input.replace(/\t/g, " ")].filter((char) => !controls.test(char)).join("")
  if (typed === "") return { _tag: "Edit", line }
  return at(line, text.slice(0, cursor) + typed + text.slice(cursor), cursor + typed.length)
}

// Columns a code point takes in a terminal: 0 for combining marks and
// zero-width characters, 2 for East Asian wide and fullwidth characters and
// for emoji, 1 otherwise (the ranges terminals' wcwidth tables agree on).
const zeroWidth = /^[\p{Mn}\p{Me}\u200b-\u200f\u2060-\u2064\ufeff]$/u
const wideRanges: ReadonlyArray<readonly [number, number]> = [
  [0x1100, 0x115f],
  [0x231a, 0x231b],
  [0x2329, 0x232a],
  [0x23e9, 0x23ec],
  [0x2e80, 0x303e],
  [0x3041, 0x33ff],
  [0x3400, 0x4dbf],
  [0x4e00, 0x9fff],
  [0xa000, 0xa4cf],
  [0xa960, 0xa97f],
  [0xac00, 0xd7a3],
  [0xf900, 0xfaff],
  [0xfe10, 0xfe19],
  [0xfe30, 0xfe6f],
  [0xff00, 0xff60],
  [0xffe0, 0xffe6],
  [0x1f300, 0x1f64f],
  [0x1f680, 0x1f6ff],
  [0x1f900, 0x1f9ff],
  [0x1fa70, 0x1faff],
  [0x20000, 0x3fffd]
]

/**
 * Columns one character (code point) takes on a terminal.
 *
 * @since 0.1.0
 * @category drawing
 */
export const charWidth = (char: string): number => {
  const code = char.codePointAt(0) ?? 0
  if (zeroWidth.test(char)) return 0
  for (const [low, high] of wideRanges) {
    if (code >= low && code <= high) return 2
  }
  return 1
}

/**
 * Where the cursor ends up after `text` is written from the start of a row
 * `columns` wide: the row below the first, and the column. A character
 * that fills the last column puts the cursor at the start of the next row
 * (see `draw`, which makes that so); a wide character that does not fit in
 * what is left of a row starts the next one, as terminals do.
 *
 * @since 0.1.0
 * @category drawing
 */
export const position = (text: string, columns: number): { readonly row: number; readonly column: number } => {
  let row = 0
  let column = 0
  for (const char of text) {
    const width = charWidth(char)
    if (width === 2 && column === columns - 1) {
      row++
      column = 0
    }
    column += width
    if (column >= columns) {
      row++
      column = 0
    }
  }
  return { row, column }
}

/**
 * What is on the screen of the typed line: the row of it the terminal's
 * cursor is on (0 for its first row). Nothing drawn yet is `initial`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Drawn {
  readonly cursorRow: number
}

/**
 * Before the first draw: the cursor is at the start of an empty row.
 *
 * @since 0.1.0
 * @category constructors
 */
export const initial: Drawn = { cursorRow: 0 }

/**
 * What to draw: the terminal's width, the prompt, the typed line.
 *
 * @since 0.1.0
 * @category models
 */
export interface View {
  readonly columns: number
  readonly prompt: string
  readonly line: Line
}

const csi = "\u001b["
const up = (rows: number) => rows > 0 ? `${csi}${rows}A` : ""
const right = (columns: number) => columns > 0 ? `${csi}${columns}C` : ""
// To the start of the typed line's first row, and erase from there to the
// end of the screen: every row of the line, however many.
const toStart = (drawn: Drawn) => `\r${up(drawn.cursorRow)}${csi}J`

/**
 * Redraws the typed line, with `above` printed first, above it: the
 * output to write, and what is then drawn. The typed line's rows are
 * erased first (from the row `previous` says it starts on), so a message
 * takes their place and the line comes back below it, all of its rows,
 * with the cursor where it was in the text.
 *
 * @since 0.1.0
 * @category drawing
 */
export const draw = (
  previous: Drawn,
  view: View,
  above: ReadonlyArray<string> = []
): { readonly output: string; readonly drawn: Drawn } => {
  const columns = Math.max(1, view.columns)
  const { line, prompt } = view
  let output = toStart(previous)
  for (const text of above) output += `${text}\r\n`
  const whole = prompt + line.text
  output += whole
  const end = position(whole, columns)
  // A line that ends exactly at the last column leaves the terminal's
  // cursor there, waiting to wrap: move it to the next row, where the
  // position puts it.
  if (end.column === 0 && end.row > 0) output += "\r\n"
  const cursor = position(prompt + line.text.slice(0, line.cursor), columns)
  output += `${up(end.row - cursor.row)}\r${right(cursor.column)}`
  return { output, drawn: { cursorRow: cursor.row } }
}

/**
 * Erases the typed line, leaving the cursor at the start of its first row
 * (where output that follows belongs).
 *
 * @since 0.1.0
 * @category drawing
 */
export const erase = (previous: Drawn): string => toStart(previous)
