"""Process an order: three checks run in parallel as child flows, then a local SQLite
connection prices it. Run it with `npm run demo`, or press F5 / click "Run" in VS Code."""
import flow_api


def handler(system: flow_api.System, this: flow_api.Execution):
    order = this.get('input_value') or {}
    order_id = order.get('order_id', 1)
    this.log(f'processing order {order_id}')

    # Start three child flows without waiting, then wait for all of them at once.
    checks = [
        this.flow('checks/validate-address', run=False, order_id=order_id),
        this.flow('checks/check-stock', run=False, order_id=order_id, items=3),
        this.flow('checks/fraud-score', run=False, order_id=order_id),
    ]
    for check in checks:
        check.run_async()
    this.wait_for(*checks)
    for check in checks:
        this.log(f"{check.get('name')}: {check.get('output_value')}")

    # A CONNECTION child: the built-in SQLITE connector, no install needed.
    price = this.connect(
        connector_type='SQLITE',
        database=':memory:',
        fetchval='SELECT round(19.99 * 3, 2)',
    ).get('output_value')

    this.set_output('order_id', order_id)
    this.set_output('total', price)
    return this.success(f'order {order_id} is ready to ship')
