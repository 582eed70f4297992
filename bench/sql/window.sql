-- Hand-written DuckDB baseline for the event_date and last-24-hours rules.
-- Parameters: $as_of, $window_start, $start, $lookback_start (naive UTC timestamps).
-- For the 24-hour rule the bench passes start = lookback_start = window_start = as_of - 24h.
WITH links AS (
    SELECT CASE WHEN trim(anonymous_id) <> '' THEN anonymous_id END AS anonymous_id,
           nullif(lower(trim(email)), '') AS email,
           occurred_at AS linked_at
    FROM events
    WHERE email IS NOT NULL AND occurred_at <= $as_of
    UNION ALL
    SELECT CASE WHEN trim(anonymous_id) <> '' THEN anonymous_id END,
           nullif(lower(trim(email)), ''),
           identified_at
    FROM identities
    WHERE email IS NOT NULL AND identified_at <= $as_of
),
people AS (
    SELECT email, min(linked_at) AS known_at
    FROM links WHERE email IS NOT NULL
    GROUP BY email
),
owners AS (
    -- latest link wins; ties go to the smallest email
    SELECT anonymous_id, arg_min(email, (-epoch_us(linked_at), email)) AS owner
    FROM links WHERE email IS NOT NULL AND anonymous_id IS NOT NULL
    GROUP BY anonymous_id
),
candidates AS (
    SELECT event_id, occurred_at, event_type, page_url, referrer, utm_source, utm_medium,
           utm_campaign, utm_content, utm_term, revenue,
           nullif(lower(trim(email)), '') AS email,
           CASE WHEN trim(anonymous_id) <> '' THEN anonymous_id END AS anonymous_id
    FROM events
    WHERE occurred_at >= $window_start AND occurred_at <= $as_of
),
stitched AS (
    SELECT coalesce(e.email, o.owner) AS email, e.* EXCLUDE (email)
    FROM candidates e LEFT JOIN owners o ON e.anonymous_id = o.anonymous_id
)
SELECT s.email, p.known_at, s.event_id, s.occurred_at, s.event_type, s.anonymous_id,
       s.utm_source, s.utm_medium, s.utm_campaign, s.utm_content, s.utm_term,
       s.page_url, s.referrer, s.revenue, s.occurred_at < p.known_at AS before_known
FROM stitched s JOIN people p ON s.email = p.email
WHERE s.occurred_at >= $start OR (p.known_at >= $start AND s.occurred_at >= $lookback_start)
QUALIFY row_number() OVER (
    PARTITION BY s.event_id
    ORDER BY s.email, s.occurred_at, s.event_type, s.anonymous_id, s.page_url
) = 1
ORDER BY s.email, s.occurred_at, s.event_id, s.event_type, s.anonymous_id, s.page_url
