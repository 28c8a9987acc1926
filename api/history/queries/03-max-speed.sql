-- Maximum speed per vehicle and day, in km/h.
SELECT vid, day, max(value) AS max_kmh
FROM samples
WHERE day BETWEEN '2026-11-26' AND '2026-11-27' AND signal = 'Vehicle.Speed'
GROUP BY vid, day
ORDER BY vid, day
