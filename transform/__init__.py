"""bedrock-spend transform: the code deployed to AWS Lambda (Firehose transform and log mirror).

This package imports nothing from the rest of the repository.
"""
