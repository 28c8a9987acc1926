-- Vehicles active per day, and their minutes of samples in all.
SELECT day, count(DISTINCT vid) AS vehicles, count(*) / 60.0 AS minutes
FROM samples
WHERE day BETWEEN '2026-11-26' AND '2026-11-27' AND signal = 'Vehicle.Speed'
GROUP BY day
ORDER BY day
