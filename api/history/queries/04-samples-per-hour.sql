-- Samples per hour of the fleet's day, and the vehicles that sent them.
SELECT hour, count(*) AS samples, count(DISTINCT vid) AS vehicles
FROM (SELECT DISTINCT hour, vid, ts FROM samples WHERE day = '2026-11-26') s
GROUP BY hour
ORDER BY hour
