-- Average speed per vehicle and day while it moved, in km/h.
SELECT vid, day, round(avg(value), 1) AS avg_kmh
FROM samples
WHERE day BETWEEN '2026-11-26' AND '2026-11-27' AND signal = 'Vehicle.Speed' AND value > 0
GROUP BY vid, day
ORDER BY vid, day
