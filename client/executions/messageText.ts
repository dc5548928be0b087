/**
 * How a runner's message reads in a row, a tooltip, a toast or a log line: the reason first, the
 * execution ids after it. A row is cut off at the width of the view, and "execution
 * 0193a1b2-…-9f3c: …" showed the id and nothing of why. Kept free of `vscode` (unit-tested).
 */

const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';
const QUOTED_ID = `'?(${UUID})'?`;

/** Where an id is taken out of a message, and what stays in its place. */
const MOVES: [RegExp, string][] = [
  // "execution <id>: RUNNING → X is not a transition …": the id names the subject only.
  [new RegExp(`^(?:the )?execution ${QUOTED_ID}:\\s*`, 'i'), ''],
  // "no execution <id>"
  [new RegExp(`\\bno execution ${QUOTED_ID}`, 'gi'), 'no such execution'],
  // "child flow 'x' (execution <id>) ended FAILED: …"
  [new RegExp(`\\s*\\(execution ${QUOTED_ID}\\)`, 'gi'), ''],
  // "execution <id> has ended …", "cannot cancel execution <id>: …"
  // (not the repr of an Execution in Python's messages: "<Execution <id> RUNNING>")
  [new RegExp(`(?<!<)\\bexecution ${QUOTED_ID}`, 'gi'), 'the execution'],
  // A bare id in front: "<id>: …"
  [new RegExp(`^${QUOTED_ID}:?\\s+`, 'i'), ''],
];

/** `text` with the execution ids it leads with (or names in passing) moved to its end. */
export function reasonFirst(text: string): string {
  const ids: string[] = [];
  let out = text;
  for (const [pattern, replacement] of MOVES) {
    out = out.replace(pattern, (_match, id: string) => {
      if (!ids.includes(id)) ids.push(id);
      return replacement;
    });
  }
  if (ids.length === 0) return text;
  out = out.trim();
  // "the execution has ended" at the start of a sentence that began with "execution".
  if (/^[A-Z]/.test(text) && out) out = out[0].toUpperCase() + out.slice(1);
  return `${out} (${ids.length === 1 ? 'execution' : 'executions'} ${ids.join(', ')})`;
}
