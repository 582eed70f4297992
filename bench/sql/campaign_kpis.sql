-- Hand-written DuckDB baseline for the campaign page's headline figures (issue 12):
-- ONE aggregate over the event_date rule, whose rows are window.sql's (bench_scale.py puts
-- window.sql, without its ORDER BY, in the rule CTE). Visits split after gaps longer
-- than 30 minutes, as journey_core.analytics.sessions does; a conversion is a purchase
-- since the start (a newly known person's earlier purchases are not the period's).
-- Parameters: as window.sql's ($as_of, $window_start, $start, $lookback_start).
WITH rule AS (
{rule}
),
gaps AS (
    SELECT email, known_at, occurred_at, event_type, revenue,
           occurred_at - lag(occurred_at) OVER (
               PARTITION BY email ORDER BY occurred_at, event_id
           ) AS gap
    FROM rule
)
SELECT count(DISTINCT email) FILTER (WHERE occurred_at >= $start) AS people,
       count(*) AS events,
       count(*) FILTER (WHERE gap IS NULL OR gap > INTERVAL 30 MINUTE) AS sessions,
       count(*) FILTER (WHERE event_type = 'purchase' AND occurred_at >= $start) AS conversions,
       coalesce(sum(revenue) FILTER (WHERE occurred_at >= $start), 0) AS revenue,
       count(DISTINCT email) FILTER (WHERE known_at >= $start) AS newly_known
FROM gaps
