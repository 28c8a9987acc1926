-- The fleet's speeding per hour of a day: seconds over 100 km/h, and the vehicles.
SELECT hour, count(*) AS seconds_over_100, count(DISTINCT vid) AS vehicles
FROM samples
WHERE day = '2026-11-26' AND signal = 'Vehicle.Speed' AND value > 100
GROUP BY hour
ORDER BY hour
