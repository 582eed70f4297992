-- Hand-written DuckDB baseline for one email's journey (the last $lookback_start..$as_of).
-- Parameters: $email (trimmed, lower-cased), $as_of, $lookback_start (naive UTC timestamps).
WITH own AS (
    -- the email's own links: what makes it known, and the anonymous ids it identified
    SELECT CASE WHEN trim(anonymous_id) <> '' THEN anonymous_id END AS anonymous_id,
           occurred_at AS linked_at
    FROM events
    WHERE lower(trim(email)) = $email AND occurred_at <= $as_of
    UNION ALL
    SELECT CASE WHEN trim(anonymous_id) <> '' THEN anonymous_id END, identified_at
    FROM identities
    WHERE lower(trim(email)) = $email AND identified_at <= $as_of
),
person AS (SELECT min(linked_at) AS known_at FROM own),
devices AS (SELECT DISTINCT anonymous_id FROM own WHERE anonymous_id IS NOT NULL),
device_links AS (
    -- every link of those anonymous ids, to find who owns each device now
    SELECT anonymous_id, nullif(lower(trim(email)), '') AS email, occurred_at AS linked_at
    FROM events
    WHERE anonymous_id IN (SELECT anonymous_id FROM devices)
      AND email IS NOT NULL AND occurred_at <= $as_of
    UNION ALL
    SELECT anonymous_id, nullif(lower(trim(email)), ''), identified_at
    FROM identities
    WHERE anonymous_id IN (SELECT anonymous_id FROM devices)
      AND email IS NOT NULL AND identified_at <= $as_of
),
owned AS (
    SELECT anonymous_id
    FROM device_links WHERE email IS NOT NULL
    GROUP BY anonymous_id
    HAVING arg_min(email, (-epoch_us(linked_at), email)) = $email
),
journey AS (
    SELECT * FROM events
    WHERE lower(trim(email)) = $email
      AND occurred_at >= $lookback_start AND occurred_at <= $as_of
    UNION ALL
    SELECT * FROM events
    WHERE anonymous_id IN (SELECT anonymous_id FROM owned)
      AND (email IS NULL OR trim(email) = '')
      AND occurred_at >= $lookback_start AND occurred_at <= $as_of
)
SELECT $email AS email, p.known_at, j.event_id, j.occurred_at, j.event_type, j.anonymous_id,
       j.utm_source, j.utm_medium, j.utm_campaign, j.utm_content, j.utm_term,
       j.page_url, j.referrer, j.revenue, j.occurred_at < p.known_at AS before_known
FROM (
    SELECT * REPLACE (CASE WHEN trim(anonymous_id) <> '' THEN anonymous_id END AS anonymous_id)
    FROM journey
) j, person p
WHERE p.known_at IS NOT NULL
QUALIFY row_number() OVER (
    PARTITION BY j.event_id ORDER BY j.occurred_at, j.event_type, j.anonymous_id, j.page_url
) = 1
ORDER BY j.occurred_at, j.event_id, j.event_type, j.anonymous_id, j.page_url
