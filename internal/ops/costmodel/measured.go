package costmodel

// Measured against dynalite and the handlers by TestMeasuredFiguresAreCurrent
// and TestMeasuredRequests for the talk's uploads (realistic VSS signals),
// as are the operations' logBytes: the tests fail when the code drifts
// from them by more than MeasuredTolerance, so that the estimate follows
// the code.
const (
	// An upload's stored item is EventItemFixedBytes plus
	// EventItemBytesPerSample for each sample, as DynamoDB counts item
	// sizes (ItemSize), without StorageOverheadBytes: the least-squares
	// line through the sizes measured at 10, 60 and 100 samples.
	EventItemFixedBytes     = 179
	EventItemBytesPerSample = 15.21
	// VehicleItemBytes is a vehicle's item with two metadata entries.
	VehicleItemBytes = 156
	// UploadResponseBytes, VehicleResponseBytes: the response bodies of an
	// upload and of a vehicle read; EventsPageGzipBytes: a full page of
	// events (the largest limit) as gzip sends it.
	UploadResponseBytes = 214
	// MqttUploadLogBytes is the ingest function's log line of an upload
	// the upload rule brought (a stored upload's: no topic, no client).
	MqttUploadLogBytes   = 200
	VehicleResponseBytes = 207
	EventsPageGzipBytes  = 35154
	// StateItemBytes is the talk's vehicle's state item (ten signals, a
	// position, connected over MQTT); StateResponseBytes its answer;
	// StatePageGzipBytes a full page of the fleet's states (the largest
	// limit) as gzip sends it; StreamRecordBytes a stream record of the
	// talk's upload as Lambda hands it to the tracker (JSON, the new image).
	StateItemBytes     = 252
	StateResponseBytes = 1078
	StatePageGzipBytes = 59878
	StreamRecordBytes  = 938
	// LogCompressedFraction is how small the functions' log lines gzip
	// (3.3-3.7 % measured, with the load); CloudWatch Logs bills stored
	// logs by their compressed size.
	LogCompressedFraction = 0.017
)

// MeasuredTolerance is the relative drift of a measured figure that fails
// the test.
const MeasuredTolerance = 0.05

// EventItemBytes is the size of the item an upload of n samples stores.
func EventItemBytes(samples int) float64 {
	return EventItemFixedBytes + EventItemBytesPerSample*float64(samples)
}
