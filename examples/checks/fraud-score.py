import flow_api


def handler(system: flow_api.System, this: flow_api.Execution, inputs: dict):
    score = (inputs['order_id'] * 7) % 100 / 100
    this.log(f'fraud score {score}')
    if score > 0.95:
        return this.error(f'fraud score {score} is too high')
    return {'score': score}
