-- name: unattributed_invalid
-- title: Unattributed and invalid spend
-- description: Dead-letter (unattributed) and invalid records: counts and cost, per entity id.
-- param: start_dt date  First day included (YYYY-MM-DD; partition column dt).
-- param: end_dt date  First day excluded (YYYY-MM-DD).
SELECT
    entity_type,
    entity_id,
    count(*) AS records,
    sum(CASE WHEN estimated_cost_usd IS NULL THEN 1 ELSE 0 END) AS unpriced_records,
    coalesce(sum(input_tokens), 0) AS input_tokens,
    coalesce(sum(output_tokens), 0) AS output_tokens,
    coalesce(sum(estimated_cost_usd), CAST(0 AS DECIMAL(38, 12))) AS cost_usd,
    min(dt) AS first_dt,
    max(dt) AS last_dt
FROM deduped
WHERE entity_type IN ('unattributed', 'invalid')
GROUP BY entity_type, entity_id
ORDER BY entity_type, cost_usd DESC, entity_id
