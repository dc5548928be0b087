// Error tolerance: a line being typed is rarely valid Python, and tree-sitter, recovering from it,
// may glue it to the lines around it (`this.` + newline + `this.flow(…)` reads as
// `this.this.flow(…)`; an unclosed `foo(1,` swallows the `def handler` below it). A small scanner
// splits the text into Python's logical lines the way a reader would — brackets, strings,
// comments, backslashes — and finds the broken ones: a line ending in a dangling `.`, a bracket
// never closed before a line that plainly starts a new statement, a string never closed on its
// line. `maskBroken` blanks those lines out (keeping every offset) so the rest parses as if they
// were not there; the analysis and the cursor contexts read the masked text, the syntax
// diagnostics say what is broken where it is broken.

export type Breakage =
  /** `this.` at the end of a line: `at` is the dot. */
  | { kind: 'dot'; at: number }
  /** A bracket opened at `at` and never closed. */
  | { kind: 'bracket'; at: number; bracket: string }
  /** A string opened at `at` and never closed on its line (which ends at `end`). */
  | { kind: 'string'; at: number; end: number; quote: string }
  /** A compound statement's header (`if x`) without its `:`; `at` is the end of the line. */
  | { kind: 'colon'; at: number };

export interface LogicalLine {
  /** Offset of the first line's start (its indentation included). */
  start: number;
  /** Offset of the end of its last line (before the line break). */
  end: number;
  indent: number;
  /** What is wrong with it: bracket, colon or dot breakage first, then unclosed strings. */
  broken?: Breakage;
  /** Strings never closed on their line, inside this line's brackets (it goes on after them). */
  strings?: Extract<Breakage, { kind: 'string' }>[];
  /** It runs to the end of the range (a statement still being typed at its end). */
  open?: boolean;
}

const CLOSERS: Record<string, string> = { '(': ')', '[': ']', '{': '}' };
const KEYWORD_START =
  /^(def|class|if|elif|else|for|while|with|try|except|finally|return|import|from|raise|pass|break|continue|assert|del|global|nonlocal|async|await|yield|lambda|print)\b/;
const HEADER = /^(async\s+)?(def|class|if|elif|else|for|while|with|try|except|finally)\b/;
/** `name = …`, `a.b(…`, `a.b.` : a line that starts a statement rather than continuing a bracket. */
const STATEMENT_START = /^[A-Za-z_][\w.]*\s*(=(?!=)|\(|\.\s*$|\.[A-Za-z_]\w*\s*$|\+=|-=)/;

/** Whether the text of a line (from its first non-blank character) plainly starts a statement. */
export function startsStatement(line: string): boolean {
  return KEYWORD_START.test(line) || STATEMENT_START.test(line);
}

/**
 * The logical lines of `text[from, to)` (`from` must be a line start). Blank and comment-only
 * lines are left out.
 */
export function logicalLines(text: string, from = 0, to = text.length): LogicalLine[] {
  const out: LogicalLine[] = [];
  let i = from;
  while (i < to) {
    // At a physical line start, outside any bracket or string.
    let indent = 0;
    while (i + indent < to && (text[i + indent] === ' ' || text[i + indent] === '\t')) indent++;
    const first = i + indent;
    if (first >= to) break;
    const c0 = text[first];
    if (c0 === '\n' || c0 === '\r' || c0 === '#') {
      const nl = text.indexOf('\n', first);
      i = nl < 0 || nl >= to ? to : nl + 1;
      continue;
    }
    const line: LogicalLine = { start: i, end: to, indent };
    const stack: { ch: string; at: number; indent: number }[] = [];
    let lineIndent = indent;
    let j = first;
    let lastSignificant = -1;
    let done = false;
    const isHeader = HEADER.test(text.slice(first, first + 12));
    let colon = false;
    while (j < to && !done) {
      const c = text[j];
      if (c === '#') {
        const nl = text.indexOf('\n', j);
        j = nl < 0 || nl >= to ? to : nl;
        continue;
      }
      if (c === '"' || c === "'") {
        const triple = text.startsWith(c + c + c, j);
        const quote = triple ? c + c + c : c;
        let k = j + quote.length;
        let closed = false;
        while (k < to) {
          const d = text[k];
          if (d === '\\') {
            k += 2;
            continue;
          }
          if (!triple && d === '\n') break;
          if (text.startsWith(quote, k)) {
            k += quote.length;
            closed = true;
            break;
          }
          k++;
        }
        if (!closed && !triple && k < to) {
          const end = k > j && text[k - 1] === '\r' ? k - 1 : k;
          const broken = { kind: 'string' as const, at: j, end, quote };
          if (stack.length) {
            // Inside brackets: read as if closed at the line's end; the call goes on.
            (line.strings ??= []).push(broken);
            lastSignificant = end - 1;
            j = k;
            continue;
          }
          // Never closed on its line: the logical line ends here.
          line.broken = broken;
          line.end = end;
          i = k + 1;
          done = true;
          break;
        }
        lastSignificant = Math.min(k, to) - 1;
        j = k;
        continue;
      }
      if (c === '\\' && (text[j + 1] === '\n' || (text[j + 1] === '\r' && text[j + 2] === '\n'))) {
        j = text.indexOf('\n', j) + 1;
        continue;
      }
      if (c === '\n') {
        const lineEnd = j > 0 && text[j - 1] === '\r' ? j - 1 : j;
        if (!stack.length) {
          line.end = lineEnd;
          i = j + 1;
          done = true;
          break;
        }
        // Inside a bracket: the next line continues it, unless it plainly starts a statement
        // no deeper than the line that opened the outermost bracket.
        const k = j + 1;
        let nextIndent = 0;
        while (k + nextIndent < to && (text[k + nextIndent] === ' ' || text[k + nextIndent] === '\t'))
          nextIndent++;
        const nextFirst = k + nextIndent;
        const nl = text.indexOf('\n', nextFirst);
        const nextLine = text.slice(nextFirst, nl < 0 || nl > to ? to : nl);
        if (
          nextLine.trim() &&
          !nextLine.startsWith('#') &&
          !/^[)\]}]/.test(nextLine) &&
          ((nextIndent <= stack[0].indent && startsStatement(nextLine)) ||
            (isHeader && KEYWORD_START.test(nextLine)))
        ) {
          const open = stack[stack.length - 1];
          line.broken = { kind: 'bracket', at: open.at, bracket: open.ch };
          line.end = endOfLine(text, lastSignificant, lineEnd);
          i = j + 1;
          done = true;
          break;
        }
        lineIndent = nextIndent;
        j = k;
        continue;
      }
      if (c === ':' && !stack.length) colon = true;
      if (CLOSERS[c]) stack.push({ ch: c, at: j, indent: lineIndent });
      else if (c === ')' || c === ']' || c === '}') {
        if (stack.length && CLOSERS[stack[stack.length - 1].ch] === c) stack.pop();
      }
      if (c !== ' ' && c !== '\t' && c !== '\r') lastSignificant = j;
      j++;
    }
    if (!done) {
      line.open = true;
      line.end = lastSignificant >= 0 ? endOfLine(text, lastSignificant, to) : to;
      i = to;
      if (stack.length) {
        const open = stack[stack.length - 1];
        line.broken = { kind: 'bracket', at: open.at, bracket: open.ch };
      }
    }
    if (
      !line.broken &&
      lastSignificant >= 0 &&
      text[lastSignificant] === '.' &&
      isDanglingDot(text, lastSignificant)
    )
      line.broken = { kind: 'dot', at: lastSignificant };
    if (!line.broken && isHeader && !colon && !line.open && lastSignificant >= 0)
      line.broken = { kind: 'colon', at: lastSignificant + 1 };
    if (!line.broken && line.strings) line.broken = line.strings.shift();
    if (line.strings && !line.strings.length) delete line.strings;
    out.push(line);
  }
  return out;
}

/** The end (before the line break) of the physical line holding `at`, at most `limit`. */
function endOfLine(text: string, at: number, limit: number): number {
  const nl = text.indexOf('\n', at);
  const end = nl < 0 || nl > limit ? limit : nl;
  return end > 0 && text[end - 1] === '\r' ? end - 1 : end;
}

/** A `.` ending a line after a name or a closing bracket (not the one of a float such as `1.`). */
function isDanglingDot(text: string, dot: number): boolean {
  let k = dot - 1;
  while (k >= 0 && (text[k] === ' ' || text[k] === '\t')) k--;
  if (k < 0) return false;
  const c = text[k];
  if (c === ')' || c === ']' || c === '}' || c === '"' || c === "'") return true;
  if (!/\w/.test(c)) return false;
  let w = k;
  while (w > 0 && /\w/.test(text[w - 1])) w--;
  return !/^\d/.test(text[w]);
}

/**
 * The text with the broken lines neutralised, every offset unchanged: a dangling dot becomes a
 * space; a line with an unclosed bracket or string becomes `0` (an expression statement) at its
 * indentation, or `if 1:` / `def name(…):` when it was a compound statement's header, so the
 * block below it still parses.
 */
export function maskBroken(
  text: string,
  lines: LogicalLine[],
  keep?: (line: LogicalLine) => boolean,
): string {
  let out = '';
  let from = 0;
  for (const line of lines) {
    const b = line.broken;
    if (!b || keep?.(line)) continue;
    if (b.kind === 'dot') {
      out += text.slice(from, b.at) + ' ';
      from = b.at + 1;
      continue;
    }
    if (b.kind === 'string') {
      // `name='abc` → `name=0   `: the rest of the line becomes a value.
      for (const str of [b, ...(line.strings ?? [])].sort((x, y) => x.at - y.at)) {
        out += text.slice(from, str.at) + blank(text.slice(str.at, str.end), '0');
        from = str.end;
      }
      continue;
    }
    const first = line.start + line.indent;
    const content = text.slice(first, line.end);
    const firstBreak = content.search(/\r?\n/);
    const firstLine = firstBreak < 0 ? content : content.slice(0, firstBreak);
    let replacement = '0';
    const header = HEADER.exec(firstLine);
    if (header && blockFollows(text, line)) {
      const def = /^((?:async\s+)?(?:def|class)\s+[A-Za-z_]\w*)/.exec(firstLine);
      if (def) replacement = headerFor(def[1], firstLine);
      else if (firstLine.length >= 5) replacement = 'if 1:';
    }
    out += text.slice(from, first) + blank(content, replacement);
    from = line.end;
  }
  return from === 0 ? text : out + text.slice(from);
}

/** Whether the next non-blank line is indented deeper than `line` (its block). */
function blockFollows(text: string, line: LogicalLine): boolean {
  const re = /\n([ \t]*)([^\s#])/g;
  re.lastIndex = line.end;
  const next = re.exec(text);
  return !!next && next[1].length > line.indent;
}

/** `def name(a, b` → `def name(a):` — as many whole parameters as fit in the line's length. */
function headerFor(name: string, line: string): string {
  if (/^(async\s+)?class/.test(name)) return name.length + 1 <= line.length ? `${name}:` : '0';
  const params = line.slice(name.length).replace(/^\s*\(/, '');
  const room = line.length - name.length - 3; // `(` + `):`
  if (room < 0) return '0';
  let kept = '';
  for (const p of params.split(',')) {
    const next = kept ? `${kept},${p}` : p;
    if (next.length > room || /[()[\]{}'"=:]/.test(p)) break;
    kept = next;
  }
  return `${name}(${kept.trim() ? kept : ''}):`;
}

/** `content` with `replacement` at its start and every other character but line breaks blanked. */
function blank(content: string, replacement: string): string {
  let out = replacement;
  for (let k = replacement.length; k < content.length; k++)
    out += content[k] === '\n' || content[k] === '\r' ? content[k] : ' ';
  return out;
}
