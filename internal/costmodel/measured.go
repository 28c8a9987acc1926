package costmodel

// Measured against dynalite and the handlers by TestMeasuredFiguresAreCurrent
// for the talk's upload (10 samples of realistic VSS signals): the test
// fails when the code drifts from them by more than MeasuredTolerance, so
// that the estimate follows the code.
const (
	// EventItemBytes is the mean size of a stored upload's item, as
	// DynamoDB counts it (ItemSize), without StorageOverheadBytes.
	EventItemBytes = 618
	// WriteUnitsPerUpload is what DynamoDB charges to store one upload.
	WriteUnitsPerUpload = 1
	// FunctionLogBytesPerUpload is what the ingest function logs for one
	// stored upload (its request line, with the embedded metric), before
	// Lambda's own START, END and REPORT lines.
	FunctionLogBytesPerUpload = 467
)

// MeasuredTolerance is the relative drift of a measured figure that fails
// the test.
const MeasuredTolerance = 0.05
