package fleet

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Limits of a vehicle's fields. Lengths count characters (Unicode code
// points), as JSON Schema's maxLength does in api/swagger.yaml.
const (
	MaxMetadataEntries  = 32
	MaxMetadataKeyLen   = 64
	MaxMetadataValueLen = 256
	MaxMakeModelLen     = 64
	// The first car: no vehicle is older.
	MinVehicleYear = 1886
)

var (
	// A vid is chosen by the client (a VIN, a device ID): 3 to 64 letters,
	// digits, '_' or '-', starting with a letter or digit.
	vidPattern   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{2,63}$`)
	platePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9 -]{0,15}$`)
)

// Vehicle is a registered vehicle.
type Vehicle struct {
	VID      string            `json:"vid" dynamodbav:"vid"`
	Make     string            `json:"make" dynamodbav:"make"`
	Model    string            `json:"model" dynamodbav:"model"`
	Year     int               `json:"year" dynamodbav:"year"`
	Plate    string            `json:"plate,omitempty" dynamodbav:"plate,omitempty"`
	Metadata map[string]string `json:"metadata,omitempty" dynamodbav:"metadata,omitempty"`
	// CreatedAt and UpdatedAt are set by the store.
	CreatedAt time.Time `json:"createdAt" dynamodbav:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt" dynamodbav:"updatedAt"`
	// Version starts at 1 and grows by one with each update; it is the ETag.
	Version int64 `json:"version" dynamodbav:"version"`
}

// ETag returns the entity tag of this version of the vehicle.
func (v Vehicle) ETag() string { return `"` + strconv.FormatInt(v.Version, 10) + `"` }

// VehicleFields are the fields a client sets, on create and on update.
type VehicleFields struct {
	Make     string            `json:"make"`
	Model    string            `json:"model"`
	Year     int               `json:"year"`
	Plate    string            `json:"plate,omitempty"`
	Metadata map[string]string `json:"metadata,omitempty"`
}

// NewVehicle is the body of a create request.
type NewVehicle struct {
	VID string `json:"vid"`
	VehicleFields
	// IdempotencyKey is the request's Idempotency-Key header, not a member
	// of its body: a retry of the create with the same key and body
	// answers the vehicle that create stored. "" means none.
	IdempotencyKey string `json:"-"`
}

// CreatedVehicle is what a create stored: the vehicle, and whether this
// request created it (false: it is a retry of a create stored before).
type CreatedVehicle struct {
	Vehicle
	Created bool
}

// ValidateVID checks a vehicle ID from a path or a body.
func ValidateVID(field, vid string) error {
	if !vidPattern.MatchString(vid) {
		return invalid(field, "must be 3 to 64 letters, digits, '_' or '-', starting with a letter or digit, got %q", truncate(vid))
	}
	return nil
}

// Validate checks a create request.
func (n NewVehicle) Validate(now time.Time) error {
	if err := ValidateVID("vid", n.VID); err != nil {
		return err
	}
	if err := ValidateIdempotencyKey(n.IdempotencyKey); err != nil {
		return err
	}
	return n.VehicleFields.Validate(now)
}

// Validate checks the client-set fields of a vehicle.
func (f VehicleFields) Validate(now time.Time) error {
	if err := requiredText("make", f.Make, MaxMakeModelLen); err != nil {
		return err
	}
	if err := requiredText("model", f.Model, MaxMakeModelLen); err != nil {
		return err
	}
	// Next year's models are sold this year.
	if maxYear := now.UTC().Year() + 1; f.Year < MinVehicleYear || f.Year > maxYear {
		return invalid("year", "must be between %d and %d, got %d", MinVehicleYear, maxYear, f.Year)
	}
	if f.Plate != "" && !platePattern.MatchString(f.Plate) {
		return invalid("plate", "must be 1 to 16 letters, digits, spaces or '-', got %q", truncate(f.Plate))
	}
	if len(f.Metadata) > MaxMetadataEntries {
		return invalid("metadata", "must have at most %d entries, got %d", MaxMetadataEntries, len(f.Metadata))
	}
	for k, v := range f.Metadata {
		// The one rule the schema cannot state (OpenAPI 3.0 has no
		// propertyNames); api/swagger.yaml says it in words.
		if n := utf8.RuneCountInString(k); n == 0 || n > MaxMetadataKeyLen || !utf8.ValidString(k) || strings.IndexFunc(k, unicode.IsControl) >= 0 {
			return invalid("metadata", "key %q must be 1 to %d characters, none a control character", truncate(k), MaxMetadataKeyLen)
		}
		if !utf8.ValidString(v) || utf8.RuneCountInString(v) > MaxMetadataValueLen {
			return invalid("metadata."+k, "must be valid text of at most %d characters", MaxMetadataValueLen)
		}
	}
	return nil
}

func requiredText(field, v string, max int) error {
	if v == "" {
		return invalid(field, "is required")
	}
	if !utf8.ValidString(v) || utf8.RuneCountInString(v) > max {
		return invalid(field, "must be valid text of at most %d characters", max)
	}
	return nil
}

// truncate shortens a bad value quoted in an error message.
func truncate(s string) string {
	const max = 80
	if len(s) <= max {
		return s
	}
	return fmt.Sprintf("%s...", s[:max])
}
