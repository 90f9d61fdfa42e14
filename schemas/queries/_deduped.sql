-- The spend records of the period [start_dt, end_dt), de-duplicated: the CTE `deduped` that every named query
-- reads. infra/analytics/queries.py puts it in front of each query (and the Athena named queries in
-- infra/template.yaml carry it expanded), so the rule lives here once.
-- Firehose retries and backfills can deliver a record twice: keep one copy per request_id; invalid
-- records (request_id null) are kept once per log_event_id, and all of them when that is null too.
-- The dt filter sits inside, before the window, so Athena prunes partitions.
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
