/**
 * A tiny terminal for tests: it interprets what `chat join` writes (text,
 * CR, LF, and the few CSI sequences it uses: cursor up, down, forward,
 * back, to a column, erase below, erase to the end of the row) the way
 * xterm and tmux do, including their wrapping rules: a character written
 * in the last column leaves the cursor there until the next character
 * wraps it, and a wide character that does not fit in what is left of a
 * row goes to the next one. The screen is as tall as it needs to be (no
 * scrolling), so every row ever written can be read back.
 *
 * Character widths are `PromptLine.charWidth`'s: the point of these tests
 * is where the rows break and where the cursor goes, not the width table.
 */
import * as PromptLine from "../../src/cli/PromptLine.ts"

export interface Screen {
  /** Interprets `output` as a terminal would. */
  readonly write: (output: string) => void
  /** The rows, trailing blanks removed, trailing empty rows dropped. */
  readonly rows: () => ReadonlyArray<string>
  /** Where the cursor is (row from the top, column from 0). */
  readonly cursor: () => { readonly row: number; readonly column: number }
}

// A wide character's second cell.
const spacer = ""

export const make = (columns: number): Screen => {
  const cells: Array<Array<string>> = [[]]
  let row = 0
  let column = 0
  // A character went into the last column: the next one starts a new row.
  let pendingWrap = false

  const rowAt = (index: number): Array<string> => {
    while (cells.length <= index) cells.push([])
    return cells[index]!
  }
  const put = (char: string) => {
    const width = PromptLine.charWidth(char)
    if (width === 0) return
    if (pendingWrap || (width === 2 && column === columns - 1)) {
      row++
      column = 0
      pendingWrap = false
    }
    const cellsOfRow = rowAt(row)
    while (cellsOfRow.length < column) cellsOfRow.push(" ")
    cellsOfRow[column] = char
    if (width === 2) cellsOfRow[column + 1] = spacer
    column += width
    if (column >= columns) {
      column = columns - 1
      pendingWrap = true
    }
  }

  const csi = (parameter: string, final: string) => {
    const n = parameter === "" ? 1 : Number(parameter)
    pendingWrap = false
    switch (final) {
      case "A":
        row = Math.max(0, row - n)
        return
      case "B":
        row += n
        return
      case "C":
        column = Math.min(columns - 1, column + n)
        return
      case "D":
        column = Math.max(0, column - n)
        return
      case "G":
        column = Math.min(columns - 1, n - 1)
        return
      case "J":
        if (parameter !== "" && parameter !== "0") throw new Error(`unsupported ESC[${parameter}J`)
        rowAt(row).length = Math.min(rowAt(row).length, column)
        cells.length = row + 1
        return
      case "K":
        rowAt(row).length = Math.min(rowAt(row).length, column)
        return
      default:
        throw new Error(`unsupported sequence ESC[${parameter}${final}`)
    }
  }

  const write = (output: string) => {
    const sequence = /\u001b\[([0-9;]*)([A-Za-z])/y
    let i = 0
    while (i < output.length) {
      const char = output[i]!
      if (char === "\u001b") {
        sequence.lastIndex = i
        const match = sequence.exec(output)
        if (match === null) throw new Error(`unsupported escape at ${JSON.stringify(output.slice(i, i + 8))}`)
        csi(match[1]!, match[2]!)
        i = sequence.lastIndex
        continue
      }
      if (char === "\r") {
        column = 0
        pendingWrap = false
      } else if (char === "\n") {
        row++
        rowAt(row)
        pendingWrap = false
      } else {
        const code = output.codePointAt(i)!
        const text = String.fromCodePoint(code)
        if (code < 0x20 || (code >= 0x7f && code < 0xa0)) throw new Error(`control character ${code} written`)
        put(text)
        i += text.length
        continue
      }
      i++
    }
  }

  const rows = () => {
    const out = cells.map((cellsOfRow) => cellsOfRow.join("").trimEnd())
    while (out.length > 0 && out[out.length - 1] === "") out.pop()
    return out
  }

  return { write, rows, cursor: () => ({ row, column }) }
}
