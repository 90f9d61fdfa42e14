-- name: tenant_month_to_date
-- title: Month-to-date spend per tenant
-- description: Each tenant's spend from the first of the month up to and including as_of.
-- param: start_dt date  First day of the month (YYYY-MM-DD).
-- param: end_dt date  First day excluded (YYYY-MM-DD): the first of the next month (data stops at today).
SELECT
    entity_id AS tenant_id,
    max(entity_name) AS tenant_name,
    count(*) AS requests,
    sum(CASE WHEN estimated_cost_usd IS NULL THEN 1 ELSE 0 END) AS unpriced_requests,
    coalesce(sum(input_tokens), 0) AS input_tokens,
    coalesce(sum(output_tokens), 0) AS output_tokens,
    coalesce(sum(estimated_cost_usd), CAST(0 AS DECIMAL(38, 12))) AS cost_usd,
    count(DISTINCT dt) AS active_days,
    max(dt) AS last_dt
FROM deduped
WHERE entity_type = 'tenant'
GROUP BY entity_id
ORDER BY cost_usd DESC, tenant_id
