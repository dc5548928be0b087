"""Counts for a minute: try Cancel, Pause and Resume on it from the Executions view."""
import flow_api


def handler(system: flow_api.System, this: flow_api.Execution):
    for i in range(60):
        this.log(f'tick {i}')
        this.sleep(1)
    return this.success('counted to 60')
