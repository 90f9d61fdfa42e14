-- name: cache_savings
-- title: Prompt-cache savings
-- description: What cache reads saved against paying the full input rate, net of the cache-write
--   premium, per entity and model. The input rate per token is derived from each record
--   (input_cost_usd / input_tokens, exact at 12 decimals because catalogue rates are whole pico-USD
--   per token); records without input tokens or input cost have no rate and are counted apart.
-- param: start_dt date  First day included (YYYY-MM-DD; partition column dt).
-- param: end_dt date  First day excluded (YYYY-MM-DD).
WITH cached AS (
    SELECT
        entity_type,
        entity_id,
        coalesce(model, model_id, '(none)') AS model,
        coalesce(cache_read_input_tokens, 0) AS read_tokens,
        coalesce(cache_write_input_tokens, 0) AS write_tokens,
        coalesce(cache_read_cost_usd, CAST(0 AS DECIMAL(24, 12))) AS read_cost,
        coalesce(cache_write_cost_usd, CAST(0 AS DECIMAL(24, 12))) AS write_cost,
        CASE
            WHEN input_tokens > 0 AND input_cost_usd IS NOT NULL
                THEN CAST(input_cost_usd / input_tokens AS DECIMAL(24, 12))
        END AS input_rate
    FROM deduped
    WHERE coalesce(cache_read_input_tokens, 0) > 0 OR coalesce(cache_write_input_tokens, 0) > 0
)
SELECT
    entity_type,
    entity_id,
    model,
    count(*) AS requests,
    sum(CASE WHEN input_rate IS NULL THEN 1 ELSE 0 END) AS requests_without_rate,
    sum(read_tokens) AS cache_read_input_tokens,
    sum(write_tokens) AS cache_write_input_tokens,
    sum(CASE WHEN input_rate IS NOT NULL THEN read_cost END) AS cache_read_cost_usd,
    sum(read_tokens * input_rate) AS read_at_input_rate_usd,
    sum(read_tokens * input_rate - read_cost) AS read_savings_usd,
    sum(write_cost - write_tokens * input_rate) AS write_premium_usd,
    sum((read_tokens * input_rate - read_cost) - (write_cost - write_tokens * input_rate)) AS net_savings_usd
FROM cached
GROUP BY entity_type, entity_id, model
ORDER BY net_savings_usd DESC, entity_type, entity_id, model
