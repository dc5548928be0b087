/**
 * The input a flow is started with: asked for as JSON when the flow reads one, prefilled with
 * the last input given to that flow in this workspace, or else with the keys the flow reads
 * (the language server infers them: `inputs['who']`, `inputs.get('times')`).
 */
import * as vscode from 'vscode';
import type { InputKeysResult } from '@flows/protocol/languageServer';

const KEY = 'flows.lastInput';

/** Asks the language server which keys a flow's source reads; [] when it cannot tell. */
export type InputKeysOf = (source: string) => Promise<InputKeysResult>;

/**
 * `{"who": "", "times": null}`: required keys with an empty string to replace, optional ones
 * with null (the flow copes without them); and where the first value sits, to select it.
 */
export function inputTemplate(keys: InputKeysResult): { text: string; select?: [number, number] } {
  if (keys.length === 0) return { text: '{}' };
  const parts = keys.map((k) => `${JSON.stringify(k.name)}: ${k.required ? '""' : 'null'}`);
  const text = `{${parts.join(', ')}}`;
  const first = 1 + JSON.stringify(keys[0].name).length + 2;
  return { text, select: [first, first + (keys[0].required ? 2 : 4)] };
}

function withRequiredKeys(last: unknown, keys: InputKeysResult): unknown {
  if (last === null || typeof last !== 'object' || Array.isArray(last)) return last;
  const missing = keys.filter((k) => k.required && !(k.name in last));
  return missing.length ? { ...last, ...Object.fromEntries(missing.map((k) => [k.name, ''])) } : last;
}

export class FlowInputs {
  constructor(
    private readonly state: vscode.Memento,
    private readonly keysOf: InputKeysOf = async () => [],
  ) {}

  last(flowName: string): unknown {
    return this.state.get<Record<string, unknown>>(KEY, {})[flowName];
  }

  async remember(flowName: string, input: unknown): Promise<void> {
    const all = { ...this.state.get<Record<string, unknown>>(KEY, {}) };
    if (input === undefined) delete all[flowName];
    else all[flowName] = input;
    await this.state.update(KEY, all);
  }

  /**
   * Asks for the input of `flowName`; resolves with the parsed JSON (undefined for an empty box)
   * and throws CancellationError when the user escapes.
   */
  async ask(flowName: string, verb: string, source?: string): Promise<unknown> {
    const keys = source !== undefined ? await this.keysOf(source) : [];
    // The last input again, with any key the flow needs now that it did not have then.
    const last = withRequiredKeys(this.last(flowName), keys);
    const template = inputTemplate(keys);
    const value = await vscode.window.showInputBox({
      title: `${verb} ${flowName}`,
      prompt: keys.length
        ? `Input of the flow as JSON: it reads ${keys.map((k) => `${k.name}${k.required ? '' : ' (optional)'}`).join(', ')}`
        : 'Input of the flow as JSON (this.get("input_value")); leave empty for none',
      value: last === undefined ? template.text : JSON.stringify(last),
      valueSelection: last === undefined ? template.select : undefined,
      ignoreFocusOut: true,
      validateInput: (text) => {
        if (!text.trim()) return undefined;
        try {
          JSON.parse(text);
          return undefined;
        } catch (err) {
          return `Not valid JSON: ${(err as Error).message}`;
        }
      },
    });
    if (value === undefined) throw new vscode.CancellationError();
    const input = value.trim() ? (JSON.parse(value) as unknown) : undefined;
    await this.remember(flowName, input);
    return input;
  }
}
