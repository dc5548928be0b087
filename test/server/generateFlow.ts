// A realistic flow of about `lines` lines (helpers plus a handler), for tests and the benchmark.
export function generateFlow(lines: number): string {
  const out = ['import flow_api', '', ''];
  for (let i = 0; out.length < lines - 12; i++) {
    out.push(
      `def step_${i}(this: flow_api.Execution, system: flow_api.System, order):`,
      `    """Step ${i} of the pipeline."""`,
      `    child = this.flow('child', priority=${i % 10}, order=order)`,
      `    result = child.get('output_value') or {}`,
      `    setting = system.setting('step-${i}')`,
      `    if setting.exists():`,
      `        this.log('step ${i} seen before', setting.get())`,
      `    for c in this.children():`,
      `        c.log('status', c.get('status'))`,
      `    rest = this.connect(connector_type='REST', url=f'https://example.com/{order}')`,
      `    this.save(message=f'step ${i} done')`,
      `    return result, rest.get('output_value')`,
      '',
      '',
    );
  }
  out.push(
    'def handler(system: flow_api.System, this: flow_api.Execution):',
    "    order = this.get('input_value') or {}",
    `    total = 0`,
    `    for i in range(3):`,
    `        total += i`,
    `    step_0(this, system, order)`,
    "    return this.success('all done')",
    '',
  );
  return out.join('\n');
}
