-- name: spend_by_model
-- title: Spend by model
-- description: Requests, tokens and cost per model (catalogue model id, else the model id as logged).
-- param: start_dt date  First day included (YYYY-MM-DD; partition column dt).
-- param: end_dt date  First day excluded (YYYY-MM-DD).
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
