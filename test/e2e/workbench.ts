/**
 * Acting on the VS Code workbench in the browser the way a user does: keyboard, clicks on what
 * is drawn, and waiting for what appears on screen (never for a fixed time). Selectors are VS
 * Code's own DOM classes, as in VS Code's smoke tests.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Locator, Page } from 'playwright-core';

export const SHOTS_DIR = path.resolve(__dirname, '../../test-results/e2e');

export class Workbench {
  private shots = 0;

  constructor(readonly page: Page) {
    fs.mkdirSync(SHOTS_DIR, { recursive: true });
  }

  /** Saves a screenshot as test-results/e2e/NN-name.png and returns its path. */
  async shot(name: string): Promise<string> {
    const file = path.join(SHOTS_DIR, `${String(++this.shots).padStart(2, '0')}-${name}.png`);
    await this.page.screenshot({ path: file });
    return file;
  }

  async waitForWorkbench(): Promise<void> {
    await this.page.locator('.monaco-workbench').waitFor({ timeout: 90_000 });
    await this.page.locator('.activitybar').waitFor({ timeout: 60_000 });
  }

  /** Runs a command by its palette title ("Flows: Run Flow"). */
  async command(title: string): Promise<void> {
    await this.page.keyboard.press('F1');
    const input = this.quickInput().locator('input');
    await input.waitFor();
    await input.fill(`>${title}`);
    await this.quickInput()
      .locator('.monaco-list-row.focused', { hasText: title.replace(/^.*?: /, '') })
      .waitFor();
    await this.page.keyboard.press('Enter');
  }

  quickInput(): Locator {
    return this.page.locator('.quick-input-widget:visible');
  }

  /** Opens a workspace file with Go to File. */
  async openFile(relativePath: string): Promise<void> {
    await this.page.keyboard.press('Control+P');
    const input = this.quickInput().locator('input');
    await input.waitFor();
    await input.fill(relativePath);
    const name = path.basename(relativePath);
    await this.quickInput().locator('.monaco-list-row.focused', { hasText: name }).waitFor();
    await this.page.keyboard.press('Enter');
    await this.page.locator(`.tab.active[aria-label^="${name}"]`).waitFor();
    await this.editor().click({ position: { x: 200, y: 10 } });
  }

  editor(): Locator {
    return this.page.locator('.editor-group-container.active .monaco-editor').first();
  }

  codeLens(title: string): Locator {
    return this.editor().locator('.codelens-decoration a', { hasText: title });
  }

  /** The activity bar entry of a view container, by its title: shows that container. */
  async openViewContainer(title: string): Promise<void> {
    const item = this.page.locator(`.activitybar .action-item a[aria-label^="${title}"]`);
    const checked = this.page.locator(`.activitybar .action-item.checked a[aria-label^="${title}"]`);
    const heading = this.page
      .locator('.sidebar .composite.title h2, .sidebar .title-label h2')
      .filter({ hasText: new RegExp(`^${title}`, 'i') })
      .first();
    // Just after a window reload the activity bar is still filling in as extensions register
    // their containers, and a click can land on the entry that moved under it (the Testing one,
    // which then closed the side bar): click, look, and click again until the container shows.
    for (let attempt = 1; ; attempt++) {
      if (await heading.isVisible()) return;
      await item.waitFor();
      // Clicking the entry of the container shown would hide the side bar; when the side bar is
      // hidden, clicking its checked entry shows it. (force: a badge on the entry, like the
      // debugger's, keeps it from ever counting as "stable")
      const shown = (await checked.count()) > 0 && (await this.page.locator('.sidebar').isVisible());
      if (!shown) await item.click({ force: true });
      try {
        await heading.waitFor({ timeout: attempt < 4 ? 5_000 : 30_000 });
        return;
      } catch (err) {
        if (attempt >= 4) throw err;
      }
    }
  }

  /** The pane of a view (Executions, Schedules, Variables…). */
  pane(title: string): Locator {
    return this.page.locator('.pane', {
      has: this.page.locator(`.pane-header[aria-label^="${title}" i]`),
    });
  }

  /** A row of a tree view whose accessible label contains `label`. */
  row(pane: Locator, label: string | RegExp): Locator {
    return pane.locator('.monaco-list-row').filter({ hasText: label });
  }

  /** The row of the execution (or schedule) called exactly `name` (its aria-label starts "name,"). */
  rowNamed(pane: Locator, name: string): Locator {
    return pane.locator(`.monaco-list-row[aria-label^="${name},"]`);
  }

  /** Waits until the row's aria-label (which names the status) matches. */
  async waitForLabel(row: Locator, pattern: RegExp, timeout = 60_000): Promise<void> {
    await row.first().waitFor({ timeout });
    const started = Date.now();
    for (;;) {
      const label = (await row.first().getAttribute('aria-label')) ?? '';
      if (pattern.test(label)) return;
      // Ended another way: no point in waiting for the rest of the timeout.
      if (/^[^,]*, (succeeded|failed|stopped|invalid|partly succeeded),/.test(label))
        throw new Error(`row "${label}" ended, but not as ${pattern}`);
      if (Date.now() - started > timeout)
        throw new Error(`row "${label}" did not come to match ${pattern} in ${timeout} ms`);
      await this.page.waitForTimeout(100);
    }
  }

  /** Answers the open input box: replaces its text and presses Enter. */
  async answerInput(text?: string): Promise<void> {
    const input = this.quickInput().locator('input');
    await input.waitFor();
    if (text !== undefined) {
      // The box can be drawn a moment before the extension's own value (the last input) lands
      // in it and replaces what was typed: type again until the box holds the text.
      for (let tries = 0; ; tries++) {
        await input.fill(text);
        if ((await input.inputValue()) === text) break;
        if (tries === 20) throw new Error(`the input box would not keep ${JSON.stringify(text)}`);
        await this.page.waitForTimeout(100);
      }
    }
    await this.page.keyboard.press('Enter');
  }

  /** Picks the item of the open quick pick whose label contains `label`. */
  async pick(label: string): Promise<void> {
    const row = this.quickInput().locator('.monaco-list-row', { hasText: label }).first();
    await row.click();
  }

  notification(text: string | RegExp): Locator {
    return this.page.locator('.notification-toast-container', { hasText: text });
  }

  /** Clicks in the glyph margin of `line` (1-based) of the active editor: toggles a breakpoint. */
  async toggleBreakpoint(line: number): Promise<void> {
    const number = this.editor().locator('.margin-view-overlays .line-numbers', {
      hasText: new RegExp(`^${line}$`),
    });
    const box = await number.boundingBox();
    if (!box) throw new Error(`line ${line} is not on screen`);
    const margin = await this.editor().locator('.margin-view-overlays').first().boundingBox();
    // The glyph margin is the strip left of the line numbers.
    await this.page.mouse.click(margin!.x + 8, box.y + box.height / 2);
  }

  /** Right-clicks `target` and runs the context-menu entry `label`. */
  async contextMenu(target: Locator, label: string): Promise<void> {
    await target.click({ button: 'right' });
    const item = this.page.locator('.context-view .monaco-menu .action-item', { hasText: label }).first();
    await item.waitFor();
    // VS Code's menus act on a hovered (focused) entry and Enter, the way a keyboard user picks.
    await item.hover();
    await this.page.locator('.context-view .monaco-menu .action-item.focused', { hasText: label }).waitFor();
    await this.page.keyboard.press('Enter');
    await item.waitFor({ state: 'detached' });
  }

  /** Closes every notification, so the next screenshot shows only the step's own. */
  async clearNotifications(): Promise<void> {
    await this.command('Notifications: Clear All Notifications');
  }
}
