package fleet

import (
	"cmp"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// BoundingBox is an area of longitudes and latitudes in degrees, given as
// west, south, east, north: the order of GeoJSON's bbox (RFC 7946,
// section 5) and of OGC API - Features' bbox parameter. A box whose west
// edge is east of its east edge crosses the antimeridian, as both say.
type BoundingBox struct {
	West, South, East, North float64
}

// coordinatePattern is a coordinate of a bounding box in degrees, as the
// spec's pattern of bbox has it: no exponent, no sign but a minus.
var coordinatePattern = regexp.MustCompile(`^-?[0-9]{1,3}(\.[0-9]{1,15})?$`)

// ParseBoundingBox reads "west,south,east,north" from parameter field.
func ParseBoundingBox(field, s string) (*BoundingBox, error) {
	parts := strings.Split(s, ",")
	bad := func() (*BoundingBox, error) {
		return nil, invalid(field, "must be four numbers west,south,east,north in degrees, such as 11.36,48.06,11.72,48.25, got %q", truncate(s))
	}
	if len(parts) != 4 {
		return bad()
	}
	var v [4]float64
	for i, p := range parts {
		if !coordinatePattern.MatchString(p) {
			return bad()
		}
		v[i], _ = strconv.ParseFloat(p, 64)
	}
	b := &BoundingBox{West: v[0], South: v[1], East: v[2], North: v[3]}
	for _, lon := range []float64{b.West, b.East} {
		if lon < -180 || lon > 180 {
			return nil, invalid(field, "longitude %v is outside [-180, 180]", lon)
		}
	}
	for _, lat := range []float64{b.South, b.North} {
		if lat < -90 || lat > 90 {
			return nil, invalid(field, "latitude %v is outside [-90, 90]", lat)
		}
	}
	if b.South > b.North {
		return nil, invalid(field, "south %v is north of north %v", b.South, b.North)
	}
	return b, nil
}

// Contains reports whether a position is in the box, edges included.
func (b BoundingBox) Contains(lat, lon float64) bool {
	if lat < b.South || lat > b.North {
		return false
	}
	if b.West <= b.East {
		return b.West <= lon && lon <= b.East
	}
	// Across the antimeridian: from West to 180, then from -180 to East.
	return lon >= b.West || lon <= b.East
}

// String is the box as ParseBoundingBox reads it.
func (b BoundingBox) String() string {
	f := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	return f(b.West) + "," + f(b.South) + "," + f(b.East) + "," + f(b.North)
}

// MaxDuration bounds a duration of a query: ten years.
const MaxDuration = 3650 * 24 * time.Hour

// durationPattern is an ISO 8601 duration of whole days, hours, minutes
// and seconds, as the spec's Duration schema has it.
var durationPattern = regexp.MustCompile(`^P(?:([0-9]{1,4})D)?(?:T(?:([0-9]{1,6})H)?(?:([0-9]{1,8})M)?(?:([0-9]{1,9})S)?)?$`)

// ParseDuration reads a positive ISO 8601 duration of days, hours, minutes
// and seconds, whole numbers each: P7D, PT10M, P1DT12H, PT90S.
func ParseDuration(field, s string) (time.Duration, error) {
	if strings.HasPrefix(s, "-") {
		return 0, invalid(field, "must not be negative, got %q", truncate(s))
	}
	m := durationPattern.FindStringSubmatch(s)
	// At least one part, and one after a T.
	if m == nil || m[1]+m[2]+m[3]+m[4] == "" || strings.HasSuffix(s, "T") {
		return 0, invalid(field, "must be an ISO 8601 duration of days, hours, minutes and seconds, such as PT10M or P7D, got %q", truncate(s))
	}
	var total time.Duration
	for i, unit := range []time.Duration{24 * time.Hour, time.Hour, time.Minute, time.Second} {
		n, _ := strconv.ParseInt(cmp.Or(m[i+1], "0"), 10, 64)
		total += time.Duration(n) * unit
	}
	if total > MaxDuration {
		return 0, invalid(field, "must be at most %d days, got %q", int(MaxDuration.Hours()/24), truncate(s))
	}
	if total == 0 {
		return 0, invalid(field, "must be longer than zero, got %q", truncate(s))
	}
	return total, nil
}

// FormatDuration writes d as ParseDuration reads it, in the largest whole
// units.
func FormatDuration(d time.Duration) string {
	d = d.Truncate(time.Second)
	var b strings.Builder
	b.WriteString("P")
	if days := d / (24 * time.Hour); days > 0 {
		b.WriteString(strconv.FormatInt(int64(days), 10) + "D")
		d -= days * 24 * time.Hour
	}
	if d > 0 {
		b.WriteString("T")
		for _, u := range []struct {
			unit time.Duration
			name string
		}{{time.Hour, "H"}, {time.Minute, "M"}, {time.Second, "S"}} {
			if n := d / u.unit; n > 0 {
				b.WriteString(strconv.FormatInt(int64(n), 10) + u.name)
				d -= n * u.unit
			}
		}
	}
	if b.Len() == 1 {
		return "PT0S"
	}
	return b.String()
}
