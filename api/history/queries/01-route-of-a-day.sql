-- A vehicle's route of a day: its positions in time order, one a second while it drove.
SELECT ts,
       max(CASE WHEN signal = 'Vehicle.CurrentLocation.Latitude' THEN value END) AS latitude,
       max(CASE WHEN signal = 'Vehicle.CurrentLocation.Longitude' THEN value END) AS longitude
FROM samples
WHERE day = '2026-11-26' AND vid = 'car-0001'
  AND signal IN ('Vehicle.CurrentLocation.Latitude', 'Vehicle.CurrentLocation.Longitude')
GROUP BY ts
ORDER BY ts
