-- Each vehicle's last position of a day, and when it was taken.
SELECT vid, max(ts) AS at,
       max_by(value, ts) FILTER (WHERE signal = 'Vehicle.CurrentLocation.Latitude') AS latitude,
       max_by(value, ts) FILTER (WHERE signal = 'Vehicle.CurrentLocation.Longitude') AS longitude
FROM samples
WHERE day = '2026-11-26' AND signal IN ('Vehicle.CurrentLocation.Latitude', 'Vehicle.CurrentLocation.Longitude')
GROUP BY vid
ORDER BY vid
