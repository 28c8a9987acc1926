-- Distance per vehicle and day, in km: how far its odometer rose that day.
SELECT vid, day, round(max(value) - min(value), 3) AS km
FROM samples
WHERE day BETWEEN '2026-11-26' AND '2026-11-27' AND signal = 'Vehicle.TraveledDistance'
GROUP BY vid, day
ORDER BY vid, day
