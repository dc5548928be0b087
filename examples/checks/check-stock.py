import flow_api


def handler(system: flow_api.System, this: flow_api.Execution, inputs: dict):
    items = inputs.get('items', 1)
    print(f'{items} item(s) requested')  # print() lands in the execution log too
    this.save(output_value={'in_stock': True, 'items': items})
