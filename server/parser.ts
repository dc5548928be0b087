// Loads web-tree-sitter and the tree-sitter-python grammar (both WASM, so they run in any Node or
// Electron without native builds). The .wasm files sit beside dist/server.js; run from source
// (tests) they are found in node_modules.
import fs from 'node:fs';
import path from 'node:path';
import type { Language, Parser, Query, Tree } from 'web-tree-sitter';
import type { Slice, Steps } from './background';
// `require` makes esbuild pick the package's CommonJS build; its ES build reads `import.meta.url`,
// which a CommonJS bundle does not have.
// eslint-disable-next-line @typescript-eslint/no-require-imports
import TreeSitter = require('web-tree-sitter');

const WASM_FILES = {
  core: { file: 'tree-sitter.wasm', pkg: 'web-tree-sitter' },
  python: { file: 'tree-sitter-python.wasm', pkg: 'tree-sitter-python' },
};

function findWasm({ file, pkg }: { file: string; pkg: string }): string {
  const candidates = [
    path.join(__dirname, file),
    path.join(__dirname, '..', 'node_modules', pkg, file),
    path.join(process.cwd(), 'node_modules', pkg, file),
  ];
  const found = candidates.find((c) => fs.existsSync(c));
  if (!found) throw new Error(`${file} not found; looked in:\n  ${candidates.join('\n  ')}`);
  return found;
}

/** Characters handed to tree-sitter per read (it copies them into a buffer of 10 KB). */
const CHUNK = 4096;

/**
 * The parsers of the whole process: one for what is parsed at once (snippets, files of the
 * folder), and one for the documents' reparses, which stop at the end of each background slice
 * and resume in the next (tree-sitter keeps a stopped parse until the parser parses anything else,
 * so the snippets of the requests in between must not use it).
 */
export class PythonParser {
  private constructor(
    private readonly parser: Parser,
    private readonly background: Parser,
    readonly language: Language,
  ) {}

  static async load(): Promise<PythonParser> {
    const core = findWasm(WASM_FILES.core);
    await TreeSitter.Parser.init({ locateFile: () => core });
    const language = await TreeSitter.Language.load(findWasm(WASM_FILES.python));
    const parser = new TreeSitter.Parser();
    parser.setLanguage(language);
    const background = new TreeSitter.Parser();
    background.setLanguage(language);
    return new PythonParser(parser, background, language);
  }

  /** Parses `text`, reusing the unchanged parts of `old` (which must have been edited to match). */
  parse(text: string, old?: Tree): Tree {
    // Read through a callback of our own rather than handing web-tree-sitter the string: given
    // the string, every replaced document text survived the young generation (measured: 200 KB
    // promoted per reparse of a 5,000-line flow, a major GC every ~50 reparses, often landing in
    // requests); read this way, they die young.
    const tree = this.parser.parse(reader(text), old);
    if (!tree) throw new Error('tree-sitter returned no tree');
    return tree;
  }

  /**
   * `parse`, stopping when `slice` expires and resuming where it stopped. One at a time: the
   * background queue runs one job at a time, and a job parses one text after the other.
   */
  *parseSteps(text: string, old: Tree | undefined, slice: Slice): Steps<Tree> {
    const options = { progressCallback: () => slice.expired() };
    let done = false;
    try {
      for (;;) {
        const tree = this.background.parse(reader(text), old, options);
        if (tree) {
          done = true;
          return tree;
        }
        yield;
      }
    } finally {
      if (!done) this.background.reset(); // cancelled: the next parse starts afresh
    }
  }

  query(source: string): Query {
    return new TreeSitter.Query(this.language, source);
  }
}

function reader(text: string): (index: number) => string {
  return (index) => text.slice(index, index + CHUNK);
}

let shared: Promise<PythonParser> | undefined;

/** The process-wide parser, loaded on first use. */
export function loadParser(): Promise<PythonParser> {
  shared ??= PythonParser.load();
  return shared;
}
