-- Uploads per vehicle and day, and the longest delay from a sample to its upload's arrival, in seconds.
SELECT vid, day, count(DISTINCT eid) AS uploads, max(date_diff('second', ts, received_at)) AS max_delay_s
FROM samples
WHERE day BETWEEN '2026-11-26' AND '2026-11-27'
GROUP BY vid, day
ORDER BY vid, day
