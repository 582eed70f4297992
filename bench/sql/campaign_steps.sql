-- Hand-written DuckDB steps of the campaign cohort under a low memory limit (issue 12), as
-- bench_floor.py --route steps runs them: narrow steps (email, known_at, event id, time and
-- the event's rowid) into tables of {store} (an attached scratch file, or temp), the wide
-- columns joined back one bucket of people at a time. Same rule and headline figures as
-- window.sql inside campaign_kpis.sql. Statements are separated by lines "-- step: NAME";
-- the "bucket" step runs once per bucket ($bucket), the rest once.
-- step: people
CREATE TABLE {store}.people AS
WITH links AS (
    SELECT nullif(lower(trim(email)), '') AS email, occurred_at AS linked_at
    FROM events WHERE email IS NOT NULL AND occurred_at <= $as_of
    UNION ALL
    SELECT nullif(lower(trim(email)), ''), identified_at
    FROM identities WHERE email IS NOT NULL AND identified_at <= $as_of
)
SELECT email, min(linked_at) AS known_at FROM links WHERE email IS NOT NULL GROUP BY email
-- step: owners
CREATE TABLE {store}.owners AS
WITH links AS (
    SELECT CASE WHEN trim(anonymous_id) <> '' THEN anonymous_id END AS anonymous_id,
           nullif(lower(trim(email)), '') AS email, occurred_at AS linked_at
    FROM events WHERE email IS NOT NULL AND occurred_at <= $as_of
    UNION ALL
    SELECT CASE WHEN trim(anonymous_id) <> '' THEN anonymous_id END,
           nullif(lower(trim(email)), ''), identified_at
    FROM identities WHERE email IS NOT NULL AND identified_at <= $as_of
)
SELECT anonymous_id, arg_min(email, (-epoch_us(linked_at), email)) AS owner
FROM links WHERE email IS NOT NULL AND anonymous_id IS NOT NULL
GROUP BY anonymous_id
-- step: admitted
CREATE TABLE {store}.admitted AS
SELECT coalesce(nullif(lower(trim(e.email)), ''), o.owner) AS email, p.known_at,
       e.event_id, e.occurred_at, e.rowid AS rid
FROM events e
LEFT JOIN {store}.owners o
    ON CASE WHEN trim(e.anonymous_id) <> '' THEN e.anonymous_id END = o.anonymous_id
JOIN {store}.people p ON p.email = coalesce(nullif(lower(trim(e.email)), ''), o.owner)
WHERE e.occurred_at >= $window_start AND e.occurred_at <= $as_of
  AND (e.occurred_at >= $start OR (p.known_at >= $start AND e.occurred_at >= $lookback_start))
-- step: repeated
CREATE TABLE {store}.repeated AS
SELECT event_id FROM {store}.admitted GROUP BY event_id HAVING count(*) > 1
-- step: kept
-- (a repeated id keeps its first row as window.sql orders them; the wide columns of the
-- ordering are read for the repeated ids' rows only)
CREATE TABLE {store}.kept AS
SELECT a.*, hash(a.email) % $buckets AS bucket
FROM {store}.admitted a ANTI JOIN {store}.repeated r ON a.event_id = r.event_id
UNION ALL
SELECT a.*, hash(a.email) % $buckets
FROM {store}.admitted a SEMI JOIN {store}.repeated r ON a.event_id = r.event_id
JOIN events e ON e.rowid = a.rid
QUALIFY row_number() OVER (
    PARTITION BY a.event_id
    ORDER BY a.email, a.occurred_at, e.event_type,
             CASE WHEN trim(e.anonymous_id) <> '' THEN e.anonymous_id END, e.page_url
) = 1
-- step: touches
CREATE TABLE {store}.touches (
    email VARCHAR, known_at TIMESTAMP, occurred_at TIMESTAMP, event_type VARCHAR,
    revenue DOUBLE, utm_campaign VARCHAR, new_visit BOOLEAN
)
-- step: bucket
INSERT INTO {store}.touches
SELECT k.email, k.known_at, k.occurred_at, e.event_type, e.revenue, e.utm_campaign,
       coalesce(k.occurred_at - lag(k.occurred_at) OVER (
           PARTITION BY k.email ORDER BY k.occurred_at, k.event_id
       ) > INTERVAL 30 MINUTE, true)
FROM (SELECT * FROM {store}.kept WHERE bucket = $bucket) k JOIN events e ON e.rowid = k.rid
-- step: headline
SELECT count(DISTINCT email) FILTER (WHERE occurred_at >= $start) AS people,
       count(*) AS events,
       count(*) FILTER (WHERE new_visit) AS sessions,
       count(*) FILTER (WHERE event_type = 'purchase' AND occurred_at >= $start) AS conversions,
       coalesce(sum(revenue) FILTER (WHERE occurred_at >= $start), 0) AS revenue,
       count(DISTINCT email) FILTER (WHERE known_at >= $start) AS newly_known
FROM {store}.touches
