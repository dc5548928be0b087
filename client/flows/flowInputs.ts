/**
 * The input a flow is started with: asked for as JSON when the flow reads one, prefilled with
 * the last input given to that flow in this workspace.
 */
import * as vscode from 'vscode';

const KEY = 'flows.lastInput';

export class FlowInputs {
  constructor(private readonly state: vscode.Memento) {}

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
  async ask(flowName: string, verb: string): Promise<unknown> {
    const last = this.last(flowName);
    const value = await vscode.window.showInputBox({
      title: `${verb} ${flowName}`,
      prompt: 'Input of the flow as JSON (this.get("input_value")); leave empty for none',
      value: last === undefined ? '{}' : JSON.stringify(last),
      valueSelection: undefined,
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
