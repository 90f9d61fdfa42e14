-- Glue / Athena tables over the spend records written by Firehose:
--   s3://<bucket>/spend/entity_type=<t>/entity_id=<id>/dt=<YYYY-MM-DD>/<object>[.gz]
-- Replace <bucket> before running (the SAM template renders this file with the real bucket name).
--
-- Columns are the spend record v1 (schemas/spend_record.avsc) minus the three partition keys, which
-- are also present in every JSON line but are read from the path. Money is DECIMAL(24,12): the JSON
-- numbers are exact decimals of USD and must never pass through DOUBLE.
-- OpenX JSON SerDe: https://docs.aws.amazon.com/athena/latest/ug/openx-json-serde.html
-- Partition projection: https://docs.aws.amazon.com/athena/latest/ug/partition-projection-supported-types.html
--
-- 1. `spend`: partition projection (no partition metadata to maintain). entity_id is `injected`, so
--    Athena requires every query on this table to name the entity_id(s) with static equality / IN
--    conditions (otherwise CONSTRAINT_VIOLATION, see
--    https://docs.aws.amazon.com/athena/latest/ug/partition-projection-dynamic-id-partitioning.html).
--    Use it for per-entity look-ups: WHERE entity_id = 'acme' AND dt >= ... .
CREATE EXTERNAL TABLE IF NOT EXISTS spend (
    schema_version string,
    request_id string,
    event_time string,
    account_id string,
    region string,
    inference_region string,
    operation string,
    model_id string,
    model string,
    inference_scope string,
    principal_arn string,
    entity_name string,
    input_tokens bigint,
    output_tokens bigint,
    cache_read_input_tokens bigint,
    cache_write_input_tokens bigint,
    input_cost_usd decimal(24,12),
    output_cost_usd decimal(24,12),
    cache_read_cost_usd decimal(24,12),
    cache_write_cost_usd decimal(24,12),
    estimated_cost_usd decimal(24,12),
    pricing_status string,
    price_version string,
    error_code string,
    request_metadata map<string,string>,
    log_group string,
    log_stream string,
    log_event_id string,
    invalid_reason string,
    raw_message string
)
PARTITIONED BY (entity_type string, entity_id string, dt string)
ROW FORMAT SERDE 'org.openx.data.jsonserde.JsonSerDe'
WITH SERDEPROPERTIES ('ignore.malformed.json' = 'false', 'case.insensitive' = 'false')
STORED AS INPUTFORMAT 'org.apache.hadoop.mapred.TextInputFormat'
OUTPUTFORMAT 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat'
LOCATION 's3://<bucket>/spend/'
TBLPROPERTIES (
    'projection.enabled' = 'true',
    'projection.entity_type.type' = 'enum',
    'projection.entity_type.values' = 'tenant,user,ci,demo,unattributed,invalid',
    'projection.entity_id.type' = 'injected',
    'projection.dt.type' = 'date',
    'projection.dt.format' = 'yyyy-MM-dd',
    'projection.dt.range' = '2024-01-01,NOW',
    'projection.dt.interval' = '1',
    'projection.dt.interval.unit' = 'DAYS',
    'storage.location.template' = 's3://<bucket>/spend/entity_type=${entity_type}/entity_id=${entity_id}/dt=${dt}/'
);

-- 2. `spend_all`: the same files, partitions registered in the catalogue (no projection), so
--    queries across all entities (every named query in schemas/queries/) can run. Register new
--    partitions after each day (or on a schedule) with:
--        MSCK REPAIR TABLE spend_all;
--    (the hive-style key=value layout is what MSCK REPAIR expects), or ALTER TABLE ... ADD PARTITION.
--    `bedrock-spend report --athena WG --database DB` uses this table by default (--table to change).
CREATE EXTERNAL TABLE IF NOT EXISTS spend_all (
    schema_version string,
    request_id string,
    event_time string,
    account_id string,
    region string,
    inference_region string,
    operation string,
    model_id string,
    model string,
    inference_scope string,
    principal_arn string,
    entity_name string,
    input_tokens bigint,
    output_tokens bigint,
    cache_read_input_tokens bigint,
    cache_write_input_tokens bigint,
    input_cost_usd decimal(24,12),
    output_cost_usd decimal(24,12),
    cache_read_cost_usd decimal(24,12),
    cache_write_cost_usd decimal(24,12),
    estimated_cost_usd decimal(24,12),
    pricing_status string,
    price_version string,
    error_code string,
    request_metadata map<string,string>,
    log_group string,
    log_stream string,
    log_event_id string,
    invalid_reason string,
    raw_message string
)
PARTITIONED BY (entity_type string, entity_id string, dt string)
ROW FORMAT SERDE 'org.openx.data.jsonserde.JsonSerDe'
WITH SERDEPROPERTIES ('ignore.malformed.json' = 'false', 'case.insensitive' = 'false')
STORED AS INPUTFORMAT 'org.apache.hadoop.mapred.TextInputFormat'
OUTPUTFORMAT 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat'
LOCATION 's3://<bucket>/spend/';
