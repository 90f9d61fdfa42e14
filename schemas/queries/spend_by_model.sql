-- name: spend_by_model
-- title: Spend by model
-- description: Requests, tokens and cost per model (catalogue model id, else the model id as logged).
-- param: start_dt date  First day included (YYYY-MM-DD; partition column dt).
-- param: end_dt date  First day excluded (YYYY-MM-DD).
WITH deduped AS (
    -- Firehose retries can deliver a record twice: keep one copy per request_id; invalid records
    -- (request_id null) are kept once per log_event_id, and all of them when that is null too.
    SELECT *
    FROM (
        SELECT
            s.*,
            row_number() OVER (
                PARTITION BY coalesce(request_id, 'log_event:' || log_event_id)
                ORDER BY event_time, entity_type, entity_id
            ) AS copy_no
        FROM spend AS s
        WHERE s.dt >= :start_dt AND s.dt < :end_dt
    ) AS numbered
    WHERE copy_no = 1 OR (request_id IS NULL AND log_event_id IS NULL)
)
SELECT
    coalesce(model, model_id, '(none)') AS model,
    count(*) AS requests,
    sum(CASE WHEN estimated_cost_usd IS NULL THEN 1 ELSE 0 END) AS unpriced_requests,
    coalesce(sum(input_tokens), 0) AS input_tokens,
    coalesce(sum(output_tokens), 0) AS output_tokens,
    coalesce(sum(cache_read_input_tokens), 0) AS cache_read_input_tokens,
    coalesce(sum(cache_write_input_tokens), 0) AS cache_write_input_tokens,
    coalesce(sum(estimated_cost_usd), CAST(0 AS DECIMAL(38, 12))) AS cost_usd
FROM deduped
WHERE entity_type <> 'invalid'
GROUP BY coalesce(model, model_id, '(none)')
ORDER BY cost_usd DESC, model
