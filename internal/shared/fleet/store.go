package fleet

import "time"

// Limits of a page of a list operation (the spec's limit parameter).
const (
	DefaultLimit = 20
	MaxLimit     = 100
)

// VehiclePage is one page of a vehicle listing.
type VehiclePage struct {
	Vehicles []Vehicle
	// NextCursor continues the listing; "" on the last page.
	NextCursor string
}

// PutResult reports a stored event.
type PutResult struct {
	Event Event
	// Created is false when the event was stored before (an idempotent retry).
	Created bool
	// WriteUnits is what DynamoDB charged for the write.
	WriteUnits float64
}

// EventQuery selects a vehicle's events.
type EventQuery struct {
	VID string
	// From and To bound the events' start time, inclusive.
	From, To time.Time
	// FromGiven and ToGiven say whether the client named From and To. A
	// bound it did not name is a default the server derives from its clock
	// for each page, so a cursor is bound to what the client asked, not to
	// the derived bound.
	FromGiven, ToGiven bool
	Limit              int
	NewestFirst        bool
	Cursor             string
}

// EventPage is one page of an event listing.
type EventPage struct {
	Events     []Event
	NextCursor string
}
