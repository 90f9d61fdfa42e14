-- name: reconcile_daily
-- title: Attributed spend per day and entity type (for reconciliation with the bill)
-- description: Per day and entity type: requests, unpriced requests and exact estimated cost, after
--   de-duplication by request_id; entity types unattributed and invalid are the dead letter and the
--   undecodable events. The reconcile command sets these next to Cost Explorer's daily Bedrock cost.
-- param: start_dt date  First day included (YYYY-MM-DD; partition column dt).
-- param: end_dt date  First day excluded (YYYY-MM-DD).
SELECT
    dt,
    entity_type,
    count(*) AS requests,
    sum(CASE WHEN estimated_cost_usd IS NULL THEN 1 ELSE 0 END) AS unpriced_requests,
    coalesce(sum(estimated_cost_usd), CAST(0 AS DECIMAL(38, 12))) AS cost_usd
FROM deduped
GROUP BY dt, entity_type
ORDER BY dt, entity_type
