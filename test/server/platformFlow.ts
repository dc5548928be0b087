// A flow written the way platform flows are written (the record API, return_when, wrappers,
// exceptions): the stubs must type-check it and the language server must find nothing wrong.
export const PLATFORM_FLOW = `import flow_api
from flow_api import exceptions


def notify(this: flow_api.Execution, text) -> None:
    this.message(subject='Order pipeline', message=text)


def handler(system: flow_api.System, this: flow_api.Execution):
    limit = system.setting('limit').get('value')
    system.setting(name='last-run', value=1)
    for s in system.settings(filter={'field': 'name', 'op': 'like', 'value': 'a%'}):
        s.get('name')
        name, value = s.get('name', 'value')
        this.log(name=name, value=value)
    response = this.connect('REST', url='https://example.com', method='GET')
    this.log(response=response)
    this.set_output(a=1, limit=limit)
    template = this.connect('REST', url='u', save=False)
    template.clone(url='v')
    a = this.flow('child', wait=system.return_when.ALL_ENDED)
    b = this.flow('child', wait=False, priority=3, order=42)
    this.wait_for(a, b, return_when=system.return_when.FIRST_ENDED)
    try:
        this.flow('child')
    except flow_api.exceptions.DependencyFailedError as e:
        failed = e.execution
        this.log('failed', failed)
    try:
        this.flow('child')
    except flow_api.DependencyFailedError as e:
        this.log(e.executions)
    except exceptions.LockTimeoutError:
        pass
    text = system.file('report.txt').get_text_content()
    system.file('report.txt').save(content=text + 'x', convert_binary=False)
    this.using('retry', max_tries=3, delay_sec=1).connect('crm')
    notify(this, 'started')
    answer = system.message('Approve?', body={'ok': {'type': 'boolean'}}).wait().get('response')
    client = system.get_own_client().get('name')
    lock = system.setting('lock').acquire(timeout=3)
    lock.release()
    for c in this.children():
        if c.get('status') == 'ENDED_SUCCESS':
            c.get('output_value')
    parent = this.parent()
    if parent is not None:
        parent.get('id')
    this.save(output_value={'answer': answer, 'client': client})
    return this.success('done')
`;
