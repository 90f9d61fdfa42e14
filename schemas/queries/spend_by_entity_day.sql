-- name: spend_by_entity_day
-- title: Spend by entity and day
-- description: Requests, tokens and exact cost per entity per day (unpriced requests counted apart).
-- param: start_dt date  First day included (YYYY-MM-DD; partition column dt).
-- param: end_dt date  First day excluded (YYYY-MM-DD).
SELECT
    dt,
    entity_type,
    entity_id,
    max(entity_name) AS entity_name,
    count(*) AS requests,
    sum(CASE WHEN estimated_cost_usd IS NULL THEN 1 ELSE 0 END) AS unpriced_requests,
    coalesce(sum(input_tokens), 0) AS input_tokens,
    coalesce(sum(output_tokens), 0) AS output_tokens,
    coalesce(sum(estimated_cost_usd), CAST(0 AS DECIMAL(38, 12))) AS cost_usd
FROM deduped
GROUP BY dt, entity_type, entity_id
ORDER BY dt, entity_type, entity_id
