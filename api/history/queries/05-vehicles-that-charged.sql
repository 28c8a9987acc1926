-- Vehicles that charged on a day: the points their state of charge rose by, in all (more than 1).
SELECT vid, round(sum(rise), 2) AS points_charged
FROM (
  SELECT vid, value - lag(value) OVER (PARTITION BY vid ORDER BY ts) AS rise
  FROM samples
  WHERE day = '2026-11-26' AND signal = 'Vehicle.Powertrain.TractionBattery.StateOfCharge.Current'
) s
WHERE rise > 0
GROUP BY vid
HAVING sum(rise) > 1
ORDER BY vid
