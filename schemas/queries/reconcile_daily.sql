-- name: reconcile_daily
-- title: Attributed spend per day and entity type (for reconciliation with the bill)
-- description: Per day and entity type: requests, unpriced requests and exact estimated cost, after
--   de-duplication by request_id; entity types unattributed and invalid are the dead letter and the
--   undecodable events. The reconcile command sets these next to Cost Explorer's daily Bedrock cost.
-- param: start_dt date  First day included (YYYY-MM-DD; partition column dt).
-- param: end_dt date  First day excluded (YYYY-MM-DD).
WITH deduped AS (
    -- Firehose retries and backfills can deliver a record twice: keep one copy per request_id;
    -- invalid records (request_id null) are kept once per log_event_id, and all of them when that
    -- is null too.
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
    dt,
    entity_type,
    count(*) AS requests,
    sum(CASE WHEN estimated_cost_usd IS NULL THEN 1 ELSE 0 END) AS unpriced_requests,
    coalesce(sum(estimated_cost_usd), CAST(0 AS DECIMAL(38, 12))) AS cost_usd
FROM deduped
GROUP BY dt, entity_type
ORDER BY dt, entity_type
