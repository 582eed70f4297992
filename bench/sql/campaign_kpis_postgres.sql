-- Hand-written PostgreSQL baseline for the campaign page's headline figures (issue 12): the
-- same rule and figures as window.sql inside campaign_kpis.sql (DuckDB), in PostgreSQL's
-- spelling (DISTINCT ON for the owners, row_number() in a subquery for QUALIFY), written
-- as a person would for this one question: no email validation beyond lower(trim()),
-- only the columns the figures read. bench_scale.py runs it with the reading
-- transaction's settings (journey_core.warehouse.read.POSTGRES_SETTINGS).
-- Parameters: :as_of, :window_start, :start, :lookback_start (naive UTC timestamps).
WITH links AS (
    SELECT CASE WHEN trim(anonymous_id) <> '' THEN anonymous_id END AS anonymous_id,
           nullif(lower(trim(email)), '') AS email,
           occurred_at AS linked_at
    FROM events
    WHERE email IS NOT NULL AND occurred_at <= :as_of
    UNION ALL
    SELECT CASE WHEN trim(anonymous_id) <> '' THEN anonymous_id END,
           nullif(lower(trim(email)), ''),
           identified_at
    FROM identities
    WHERE email IS NOT NULL AND identified_at <= :as_of
),
people AS (
    SELECT email, min(linked_at) AS known_at
    FROM links WHERE email IS NOT NULL
    GROUP BY email
),
owners AS (
    -- latest link wins; ties go to the smallest email
    SELECT DISTINCT ON (anonymous_id) anonymous_id, email AS owner
    FROM links WHERE email IS NOT NULL AND anonymous_id IS NOT NULL
    ORDER BY anonymous_id, linked_at DESC, email
),
candidates AS (
    SELECT event_id, occurred_at, event_type, page_url, revenue,
           nullif(lower(trim(email)), '') AS email,
           CASE WHEN trim(anonymous_id) <> '' THEN anonymous_id END AS anonymous_id
    FROM events
    WHERE occurred_at >= :window_start AND occurred_at <= :as_of
),
rule AS (
    SELECT email, known_at, event_id, occurred_at, event_type, revenue
    FROM (
        SELECT s.email, p.known_at, s.event_id, s.occurred_at, s.event_type, s.revenue,
               row_number() OVER (
                   PARTITION BY s.event_id
                   ORDER BY s.email, s.occurred_at, s.event_type, s.anonymous_id, s.page_url
               ) AS n
        FROM (
            SELECT coalesce(e.email, o.owner) AS email, e.event_id, e.occurred_at,
                   e.event_type, e.anonymous_id, e.page_url, e.revenue
            FROM candidates e LEFT JOIN owners o ON e.anonymous_id = o.anonymous_id
        ) s
        JOIN people p ON s.email = p.email
        WHERE s.occurred_at >= :start
           OR (p.known_at >= :start AND s.occurred_at >= :lookback_start)
    ) ranked
    WHERE n = 1
),
gaps AS (
    SELECT email, known_at, occurred_at, event_type, revenue,
           occurred_at - lag(occurred_at) OVER (
               PARTITION BY email ORDER BY occurred_at, event_id
           ) AS gap
    FROM rule
)
SELECT count(DISTINCT email) FILTER (WHERE occurred_at >= :start) AS people,
       count(*) AS events,
       count(*) FILTER (WHERE gap IS NULL OR gap > INTERVAL '30 minutes') AS sessions,
       count(*) FILTER (WHERE event_type = 'purchase' AND occurred_at >= :start) AS conversions,
       coalesce(sum(revenue) FILTER (WHERE occurred_at >= :start), 0) AS revenue,
       count(DISTINCT email) FILTER (WHERE known_at >= :start) AS newly_known
FROM gaps
