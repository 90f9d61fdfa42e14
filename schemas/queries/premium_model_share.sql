-- name: premium_model_share
-- title: Expensive model where a cheaper one would do
-- description: Share of each entity's spend on the priciest models (the top_models highest input
--   rates per 1K tokens seen in the period, derived from the records), and how much of it went to
--   short answers (output_tokens <= small_output_tokens), where a cheaper model would likely do.
-- param: start_dt date  First day included (YYYY-MM-DD; partition column dt).
-- param: end_dt date  First day excluded (YYYY-MM-DD).
-- param: top_models int[1,50]  How many of the priciest models count as premium.
-- param: small_output_tokens int[0,1000000]  Output size at or below which an answer counts as short.
WITH model_rates AS (
    SELECT
        coalesce(model, model_id) AS model,
        max(CAST(input_cost_usd * 1000 / input_tokens AS DECIMAL(24, 12))) AS input_per_1k_usd
    FROM deduped
    WHERE input_tokens > 0 AND input_cost_usd IS NOT NULL
    GROUP BY coalesce(model, model_id)
),
premium AS (
    SELECT model, input_per_1k_usd
    FROM (
        SELECT model, input_per_1k_usd, dense_rank() OVER (ORDER BY input_per_1k_usd DESC) AS price_rank
        FROM model_rates
    ) AS ranked
    WHERE price_rank <= :top_models
),
attributed AS (
    SELECT
        d.entity_type,
        d.entity_id,
        d.entity_name,
        d.output_tokens,
        coalesce(d.estimated_cost_usd, CAST(0 AS DECIMAL(24, 12))) AS cost,
        p.model AS premium_model
    FROM deduped AS d
    LEFT JOIN premium AS p ON p.model = coalesce(d.model, d.model_id)
    WHERE d.entity_type <> 'invalid'
)
SELECT
    entity_type,
    entity_id,
    max(entity_name) AS entity_name,
    count(*) AS requests,
    sum(cost) AS cost_usd,
    sum(CASE WHEN premium_model IS NOT NULL THEN 1 ELSE 0 END) AS premium_requests,
    coalesce(sum(CASE WHEN premium_model IS NOT NULL THEN cost END), CAST(0 AS DECIMAL(38, 12))) AS premium_cost_usd,
    CASE
        WHEN sum(cost) > 0
            THEN CAST(
                100 * coalesce(sum(CASE WHEN premium_model IS NOT NULL THEN cost END), 0) / sum(cost)
                AS DECIMAL(9, 2)
            )
    END AS premium_share_pct,
    sum(
        CASE WHEN premium_model IS NOT NULL AND coalesce(output_tokens, 0) <= :small_output_tokens THEN 1 ELSE 0 END
    ) AS premium_short_requests,
    coalesce(
        sum(CASE WHEN premium_model IS NOT NULL AND coalesce(output_tokens, 0) <= :small_output_tokens THEN cost END),
        CAST(0 AS DECIMAL(38, 12))
    ) AS premium_short_cost_usd
FROM attributed
GROUP BY entity_type, entity_id
ORDER BY premium_cost_usd DESC, entity_type, entity_id
