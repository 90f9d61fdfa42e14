-- name: billing_lines
-- title: Billing lines
-- description: One line per entity per model per day with tokens and exact cost (invalid records,
--   which carry neither, are excluded). The billing export (bedrock-spend bill) runs this query.
-- param: start_dt date  First day included (YYYY-MM-DD; partition column dt).
-- param: end_dt date  First day excluded (YYYY-MM-DD).
SELECT
    dt,
    entity_type,
    entity_id,
    max(entity_name) AS entity_name,
    coalesce(model, model_id, '(none)') AS model,
    count(*) AS requests,
    sum(CASE WHEN estimated_cost_usd IS NULL THEN 1 ELSE 0 END) AS unpriced_requests,
    coalesce(sum(input_tokens), 0) AS input_tokens,
    coalesce(sum(output_tokens), 0) AS output_tokens,
    coalesce(sum(cache_read_input_tokens), 0) AS cache_read_input_tokens,
    coalesce(sum(cache_write_input_tokens), 0) AS cache_write_input_tokens,
    coalesce(sum(input_cost_usd), CAST(0 AS DECIMAL(38, 12))) AS input_cost_usd,
    coalesce(sum(output_cost_usd), CAST(0 AS DECIMAL(38, 12))) AS output_cost_usd,
    coalesce(sum(cache_read_cost_usd), CAST(0 AS DECIMAL(38, 12))) AS cache_read_cost_usd,
    coalesce(sum(cache_write_cost_usd), CAST(0 AS DECIMAL(38, 12))) AS cache_write_cost_usd,
    coalesce(sum(estimated_cost_usd), CAST(0 AS DECIMAL(38, 12))) AS cost_usd
FROM deduped
WHERE entity_type <> 'invalid'
GROUP BY dt, entity_type, entity_id, coalesce(model, model_id, '(none)')
ORDER BY dt, entity_type, entity_id, model
