/**
 * Forms that running flows open with `system.message(...)`: a notification when one arrives,
 * then the form as a sequence of quick inputs (one per field), and the answer goes back to the
 * runner (POST /api/latest/message/<id>/response), which wakes the waiting flow.
 */
import * as vscode from 'vscode';
import type { MessageRecord } from '@flows/protocol';
import { log, showError } from '../log';
import type { RunnerService } from '../runner/runnerService';
import { parseAnswer, parseForm, type FormField } from './messageForm';

export class MessagePrompts implements vscode.Disposable {
  private readonly notified = new Set<string>();
  /** Forms waiting for an answer, by the execution that waits. */
  private readonly open = new Map<string, Map<string, MessageRecord>>();
  /** Answers given to a form that was left before its last field, by message id. */
  private readonly drafts = new Map<string, Record<string, unknown>>();
  private readonly changed = new vscode.EventEmitter<string>();
  /** An execution's open forms changed (its row offers "Answer Form" or stops offering it). */
  readonly onDidChangeOpenForms = this.changed.event;
  private readonly subs: vscode.Disposable[];

  constructor(private readonly runner: RunnerService) {
    this.subs = [
      this.changed,
      runner.session.onMessage(({ event, message }) => {
        this.track(message);
        if (event === 'created') void this.notify(message);
      }),
      // Forms opened while no window listened (or before a reconnect) are still waiting.
      runner.session.onDidConnect((conn) =>
        conn.api.openMessages().then(
          (open) => {
            for (const id of [...this.open.keys()]) {
              this.open.delete(id);
              this.changed.fire(id);
            }
            open.forEach((m) => {
              this.track(m);
              void this.notify(m);
            });
          },
          (err: Error) => log.warn(`could not list open forms: ${err.message}`),
        ),
      ),
    ];
  }

  /** Whether the execution waits for an answer to a form. */
  isWaiting(executionId: string): boolean {
    return (this.open.get(executionId)?.size ?? 0) > 0;
  }

  private track(message: MessageRecord): void {
    const forms = this.open.get(message.execution_id) ?? new Map<string, MessageRecord>();
    if (message.responded_at) {
      forms.delete(message.id);
      this.drafts.delete(message.id);
    } else forms.set(message.id, message);
    if (forms.size) this.open.set(message.execution_id, forms);
    else this.open.delete(message.execution_id);
    this.changed.fire(message.execution_id);
  }

  /** "Answer Form" on a waiting execution's row. */
  answerFor(executionId: string): Promise<void> {
    return this.pickAndAnswer(executionId);
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

  /** "Flows: Answer Form…": pick one of the forms still waiting (of one execution, when given). */
  async pickAndAnswer(executionId?: string): Promise<void> {
    const conn = await this.runner.ensure();
    const open = (await conn.api.openMessages()).filter(
      (m) => !executionId || m.execution_id === executionId,
    );
    if (open.length === 0) {
      void vscode.window.showInformationMessage(
        executionId
          ? 'This execution is not waiting for an answer any more.'
          : 'No flow is waiting for an answer.',
      );
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
    // Answers given before an Escape come back as the fields' defaults.
    const draft = this.drafts.get(message.id) ?? {};
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
      const asked = field.name in draft ? { ...field, default: draft[field.name] } : field;
      const value = await askField(asked, `${title}${step}`, i === 0 ? form.text.join(' ') : undefined);
      if (value === CANCELLED) {
        // The flow keeps waiting. What was answered is kept for the next try, and said so.
        if (i === 0 && Object.keys(draft).length === 0) return;
        const kept = { ...draft, ...response };
        this.drafts.set(message.id, kept);
        const n = Object.keys(kept).length;
        const again = await vscode.window.showInformationMessage(
          `"${title}" was not sent: the flow still waits. Your ${n === 1 ? 'answer is' : `${n} answers are`} kept.`,
          'Continue Answering',
        );
        if (again) await this.answer(message);
        return;
      }
      response[field.name] = value;
    }
    const conn = await this.runner.ensure();
    await conn.api.answerMessage(message.id, response);
    this.drafts.delete(message.id);
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
