"""Everything that runs around the Lambda code: the CLI, the local stack and its Firehose engine."""
