-- name: top_users
-- title: Top users
-- description: The users (SSO or IAM) with the highest spend, with their most used model.
-- param: start_dt date  First day included (YYYY-MM-DD; partition column dt).
-- param: end_dt date  First day excluded (YYYY-MM-DD).
-- param: limit int[1,1000]  How many users to list.
WITH per_model AS (
    SELECT
        entity_id,
        coalesce(model, model_id, '(none)') AS model,
        count(*) AS requests,
        coalesce(sum(estimated_cost_usd), CAST(0 AS DECIMAL(38, 12))) AS cost_usd
    FROM deduped
    WHERE entity_type = 'user'
    GROUP BY entity_id, coalesce(model, model_id, '(none)')
),
top_model AS (
    SELECT entity_id, model
    FROM (
        SELECT
            entity_id,
            model,
            row_number() OVER (PARTITION BY entity_id ORDER BY cost_usd DESC, requests DESC, model) AS pos
        FROM per_model
    ) AS ranked
    WHERE pos = 1
)
SELECT
    d.entity_id AS user_id,
    max(d.entity_name) AS user_name,
    count(*) AS requests,
    coalesce(sum(d.input_tokens), 0) AS input_tokens,
    coalesce(sum(d.output_tokens), 0) AS output_tokens,
    coalesce(sum(d.estimated_cost_usd), CAST(0 AS DECIMAL(38, 12))) AS cost_usd,
    max(t.model) AS top_model
FROM deduped AS d
LEFT JOIN top_model AS t ON t.entity_id = d.entity_id
WHERE d.entity_type = 'user'
GROUP BY d.entity_id
ORDER BY cost_usd DESC, user_id
LIMIT :limit
