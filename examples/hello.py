import flow_api


def handler(system: flow_api.System, this: flow_api.Execution):
    name = (this.get('input_value') or {}).get('name', 'world')
    this.log(f'Hello, {name}!')
    return this.success(f'greeted {name}')
