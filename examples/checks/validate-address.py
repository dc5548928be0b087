import flow_api


def handler(system: flow_api.System, this: flow_api.Execution, inputs: dict):
    this.log(f"validating the address of order {inputs['order_id']}")
    this.sleep(0.2)
    return {'valid': True, 'country': 'AT'}
