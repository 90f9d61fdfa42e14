-- name: top_models_by_entity
-- title: Top models per entity
-- description: For each entity, its :top_n most expensive models with requests, tokens and cost,
--   and each model's share of the entity's spend.
-- param: start_dt date  First day included (YYYY-MM-DD; partition column dt).
-- param: end_dt date  First day excluded (YYYY-MM-DD).
-- param: top_n int[1,50]  Models kept per entity.
WITH per_model AS (
    SELECT
        entity_type,
        entity_id,
        max(entity_name) AS entity_name,
        coalesce(model, model_id, '(none)') AS model,
        count(*) AS requests,
        coalesce(sum(input_tokens), 0) AS input_tokens,
        coalesce(sum(output_tokens), 0) AS output_tokens,
        coalesce(sum(estimated_cost_usd), CAST(0 AS DECIMAL(38, 12))) AS cost_usd
    FROM deduped
    WHERE entity_type <> 'invalid'
    GROUP BY entity_type, entity_id, coalesce(model, model_id, '(none)')
),
ranked AS (
    SELECT
        per_model.*,
        row_number() OVER (PARTITION BY entity_type, entity_id ORDER BY cost_usd DESC, model) AS model_rank,
        sum(cost_usd) OVER (PARTITION BY entity_type, entity_id) AS entity_cost_usd
    FROM per_model
)
SELECT
    entity_type,
    entity_id,
    entity_name,
    model_rank,
    model,
    requests,
    input_tokens,
    output_tokens,
    cost_usd,
    CASE
        WHEN entity_cost_usd = 0 THEN CAST(0 AS DECIMAL(38, 12))
        ELSE CAST(cost_usd * 100 / entity_cost_usd AS DECIMAL(38, 12))
    END AS share_pct
FROM ranked
WHERE model_rank <= :top_n
ORDER BY entity_cost_usd DESC, entity_type, entity_id, model_rank
