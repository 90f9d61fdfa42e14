"""Local emulation of what moto does not do: Firehose delivery semantics and Logs subscriptions.

Wiring (see each module's docstring for the contract and the AWS documentation it follows)::

    description = firehose.describe_delivery_stream(DeliveryStreamName=name)["DeliveryStreamDescription"]
    engine = FirehoseEngine(description, s3_client, invoke=lambda event: handler(event, context))
    api = FirehoseApiServer([engine], port=4573).start()        # the Lambda's own re-puts land here
    sub = SubscriptionFilterEmulator(logs_client, group, "to-firehose", "", engine.put_records)
    sub.send_control_message(); sub.poll(); engine.flush()      # or engine.tick() on a clock
    api.stop()
"""
