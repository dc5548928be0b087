/**
 * Forms that running flows open with `system.message(...)`: a notification when one arrives,
 * then the form as a sequence of quick inputs (one per field), and the answer goes back to the
 * runner (POST /api/latest/message/<id>/response), which wakes the waiting flow.
 */
import * as vscode from 'vscode';
import type { MessageRecord } from '../../protocol';
import { log, showError } from '../log';
import type { RunnerService } from '../runner/runnerService';
import { parseAnswer, parseForm, type FormField } from './messageForm';

export class MessagePrompts implements vscode.Disposable {
  private readonly notified = new Set<string>();
  private readonly subs: vscode.Disposable[];

  constructor(private readonly runner: RunnerService) {
    this.subs = [
      runner.session.onMessage(({ event, message }) => {
        if (event === 'created') void this.notify(message);
      }),
      // Forms opened while no window listened (or before a reconnect) are still waiting.
      runner.session.onDidConnect((conn) =>
        conn.api.openMessages().then(
          (open) => open.forEach((m) => void this.notify(m)),
          (err: Error) => log.warn(`could not list open forms: ${err.message}`),
        ),
      ),
    ];
  }

  private async notify(message: MessageRecord): Promise<void> {
    if (this.notified.has(message.id)) return;
    this.notified.add(message.id);
    const pick = await vscode.window.showInformationMessage(
      `A flow asks: ${message.subject}`,
      'Answer',
      'Later',
    );
    if (pick === 'Answer') await this.answer(message).catch((err) => showError(err, 'answering a form'));
  }

  /** "Flows: Answer Form…": pick one of the forms still waiting. */
  async pickAndAnswer(): Promise<void> {
    const conn = await this.runner.ensure();
    const open = await conn.api.openMessages();
    if (open.length === 0) {
      void vscode.window.showInformationMessage('No flow is waiting for an answer.');
      return;
    }
    const picked =
      open.length === 1
        ? open[0]
        : (
            await vscode.window.showQuickPick(
              open.map((m) => ({ label: m.subject, description: m.execution_id.slice(0, 8), message: m })),
              { title: 'Forms waiting for an answer' },
            )
          )?.message;
    if (picked) await this.answer(picked);
  }

  async answer(message: MessageRecord): Promise<void> {
    const form = parseForm(message.body);
    const title = message.subject;
    const response: Record<string, unknown> = {};
    if (form.fields.length === 0) {
      const ok = await vscode.window.showInformationMessage(
        title,
        { modal: true, detail: form.text.join('\n\n') || undefined },
        'OK',
      );
      if (ok !== 'OK') return;
    }
    for (const [i, field] of form.fields.entries()) {
      const step = form.fields.length > 1 ? ` (${i + 1}/${form.fields.length})` : '';
      const value = await askField(field, `${title}${step}`, i === 0 ? form.text.join(' ') : undefined);
      if (value === CANCELLED) return; // the flow keeps waiting; "Answer Form…" reopens it
      response[field.name] = value;
    }
    const conn = await this.runner.ensure();
    await conn.api.answerMessage(message.id, response);
  }

  dispose(): void {
    this.subs.forEach((s) => s.dispose());
  }
}

const CANCELLED = Symbol('cancelled');

async function askField(field: FormField, title: string, text?: string): Promise<unknown> {
  const placeHolder = [text, field.description].filter(Boolean).join(' — ') || field.label;
  if (field.kind === 'boolean' || field.kind === 'choice') {
    const items =
      field.kind === 'boolean'
        ? [
            { label: 'Yes', value: true as unknown },
            { label: 'No', value: false as unknown },
          ]
        : (field.choices ?? []).map((c) => ({ label: c, value: c as unknown }));
    const def = items.find((it) => it.value === field.default);
    if (def) items.unshift(...items.splice(items.indexOf(def), 1));
    const picked = await vscode.window.showQuickPick(items, {
      title: `${title}: ${field.label}`,
      placeHolder,
      ignoreFocusOut: true,
    });
    return picked ? picked.value : CANCELLED;
  }
  const text2 = await vscode.window.showInputBox({
    title: `${title}: ${field.label}`,
    prompt: placeHolder,
    value:
      field.default === undefined
        ? ''
        : typeof field.default === 'string'
          ? field.default
          : JSON.stringify(field.default),
    ignoreFocusOut: true,
    validateInput: (t) => {
      const r = parseAnswer(field, t);
      return 'error' in r ? r.error : undefined;
    },
  });
  if (text2 === undefined) return CANCELLED;
  const r = parseAnswer(field, text2);
  return 'value' in r ? r.value : CANCELLED;
}
