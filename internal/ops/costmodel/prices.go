package costmodel

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"time"

	"go.yaml.in/yaml/v4"
)

// The prices the estimate needs; a price file must give each of them.
const (
	PriceRestRequests        = "apiGatewayRestRequests"
	PriceIoTConnectivity     = "iotConnectivityMinutes"
	PriceIoTRules            = "iotRulesTriggered"
	PriceIoTActions          = "iotActionsExecuted"
	PriceIoTMessages         = "iotMessages"
	PriceHTTPRequests        = "apiGatewayHttpRequests"
	PriceLambdaRequests      = "lambdaRequests"
	PriceLambdaArm64         = "lambdaArm64Duration"
	PriceLambdaX8664         = "lambdaX8664Duration"
	PriceWriteUnits          = "dynamodbStandardWriteRequestUnits"
	PriceReadUnits           = "dynamodbStandardReadRequestUnits"
	PriceIAWriteUnits        = "dynamodbStandardIAWriteRequestUnits"
	PriceIAReadUnits         = "dynamodbStandardIAReadRequestUnits"
	PriceWriteCapacity       = "dynamodbStandardWriteCapacityUnitHours"
	PriceReadCapacity        = "dynamodbStandardReadCapacityUnitHours"
	PriceIAWriteCapacity     = "dynamodbStandardIAWriteCapacityUnitHours"
	PriceIAReadCapacity      = "dynamodbStandardIAReadCapacityUnitHours"
	PriceStorage             = "dynamodbStandardStorage"
	PriceIAStorage           = "dynamodbStandardIAStorage"
	PricePITR                = "dynamodbPointInTimeRecovery"
	PriceAlarmMetrics        = "cloudwatchAlarmMetrics"
	PriceHighResAlarmMetrics = "cloudwatchHighResolutionAlarmMetrics"
	PriceCompositeAlarms     = "cloudwatchCompositeAlarms"
	PriceDashboards          = "cloudwatchDashboards"
	PriceCustomMetrics       = "cloudwatchCustomMetrics"
	PriceLogsIngestion       = "cloudwatchLogsStandardIngestion"
	PriceLambdaLogsIngestion = "cloudwatchLogsLambdaIngestion"
	PriceLogsStorage         = "cloudwatchLogsStorage"
	PriceXRayTraces          = "xrayTracesRecorded"
	PriceKMSKeys             = "kmsKeys"
	PriceKMSRequests         = "kmsRequests"
	PriceSecrets             = "secretsManagerSecrets"
	PriceSecretsAPICalls     = "secretsManagerApiCalls"
	PriceSNSEmail            = "snsEmailDeliveries"
	PriceBudgets             = "budgetsWithoutActions"
	PriceDataTransferOut     = "dataTransferOut"
	// The history's: S3 storage by class, puts, lifecycle transitions and
	// retrievals; Athena's bytes scanned.
	PriceS3Standard             = "s3StandardStorage"
	PriceS3StandardIA           = "s3StandardIAStorage"
	PriceS3GlacierIR            = "s3GlacierInstantRetrievalStorage"
	PriceS3Puts                 = "s3PutRequests"
	PriceS3TransitionsIA        = "s3TransitionsToStandardIA"
	PriceS3TransitionsGlacierIR = "s3TransitionsToGlacierInstantRetrieval"
	PriceS3GlacierIRRetrieval   = "s3GlacierInstantRetrievalRetrieval"
	PriceAthenaScanned          = "athenaDataScanned"
	priceDateLayout             = time.DateOnly
)

// RequiredPrices lists every price a price file must hold.
var RequiredPrices = []string{
	PriceRestRequests, PriceHTTPRequests, PriceIoTConnectivity, PriceIoTRules, PriceIoTActions, PriceIoTMessages, PriceLambdaRequests, PriceLambdaArm64, PriceLambdaX8664,
	PriceWriteUnits, PriceReadUnits, PriceIAWriteUnits, PriceIAReadUnits,
	PriceWriteCapacity, PriceReadCapacity, PriceIAWriteCapacity, PriceIAReadCapacity, PriceStorage, PriceIAStorage, PricePITR,
	PriceAlarmMetrics, PriceHighResAlarmMetrics, PriceCompositeAlarms, PriceDashboards, PriceCustomMetrics,
	PriceLogsIngestion, PriceLambdaLogsIngestion, PriceLogsStorage, PriceXRayTraces,
	PriceKMSKeys, PriceKMSRequests, PriceSecrets, PriceSecretsAPICalls, PriceSNSEmail, PriceBudgets, PriceDataTransferOut,
	PriceS3Standard, PriceS3StandardIA, PriceS3GlacierIR, PriceS3Puts, PriceS3TransitionsIA, PriceS3TransitionsGlacierIR, PriceS3GlacierIRRetrieval, PriceAthenaScanned,
}

// Prices is one Region's list prices, as a price file gives them.
type Prices struct {
	Region string           `yaml:"region" json:"region"`
	Prices map[string]Price `yaml:"prices" json:"prices"`
}

// Price is the price of one meter: flat (USD for every Per units) or tiered.
type Price struct {
	Unit   string  `yaml:"unit" json:"unit"`
	Per    float64 `yaml:"per" json:"per"`
	USD    float64 `yaml:"usd" json:"usd,omitempty"`
	Tiers  []Tier  `yaml:"tiers" json:"tiers,omitempty"`
	Free   float64 `yaml:"free" json:"free,omitempty"`
	Source string  `yaml:"source" json:"source"`
	// Recorded is the day the price was taken from Source, YYYY-MM-DD.
	Recorded string `yaml:"recorded" json:"recorded"`
}

// Tier prices the units up to UpTo (the total so far, 0 for no limit).
type Tier struct {
	UpTo float64 `yaml:"upTo" json:"upTo,omitempty"`
	USD  float64 `yaml:"usd" json:"usd"`
}

// LoadPrices reads a price file; its errors name the file and the price.
func LoadPrices(path string) (*Prices, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("price file: %w", err)
	}
	p, err := ParsePrices(data)
	if err != nil {
		return nil, fmt.Errorf("price file %s: %w", path, err)
	}
	return p, nil
}

// ParsePrices reads a price file's contents: unknown keys, a missing price
// or a price without source and date are errors.
func ParsePrices(data []byte) (*Prices, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var p Prices
	if err := dec.Decode(&p); err != nil {
		return nil, err
	}
	if p.Region == "" {
		return nil, errors.New("no region")
	}
	var missing []string
	for _, name := range RequiredPrices {
		if _, ok := p.Prices[name]; !ok {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("missing prices: %v", missing)
	}
	for name, pr := range p.Prices {
		if !slices.Contains(RequiredPrices, name) {
			return nil, fmt.Errorf("price %s: not one the estimate uses (known: %v)", name, RequiredPrices)
		}
		if err := pr.validate(); err != nil {
			return nil, fmt.Errorf("price %s: %w", name, err)
		}
	}
	return &p, nil
}

func (p Price) validate() error {
	switch {
	case p.Source == "":
		return errors.New("no source page")
	case p.Unit == "":
		return errors.New("no unit")
	case !(p.Per > 0):
		return fmt.Errorf("per must be more than 0, got %g", p.Per)
	case p.USD < 0 || p.Free < 0:
		return errors.New("usd and free must not be negative")
	case len(p.Tiers) > 0 && p.USD != 0:
		return errors.New("both usd and tiers: give one")
	}
	if _, err := time.Parse(priceDateLayout, p.Recorded); err != nil {
		return fmt.Errorf("recorded must be a date YYYY-MM-DD, got %q", p.Recorded)
	}
	last := 0.0
	for i, t := range p.Tiers {
		switch {
		case t.USD < 0:
			return fmt.Errorf("tier %d: negative usd", i+1)
		case i == len(p.Tiers)-1 && t.UpTo != 0:
			return fmt.Errorf("the last tier must have no upTo, got %g", t.UpTo)
		case i < len(p.Tiers)-1 && t.UpTo <= last:
			return fmt.Errorf("tier %d: upTo %g must be above the tier before's %g", i+1, t.UpTo, last)
		}
		last = t.UpTo
	}
	return nil
}

// Cost is the price of q units in a month, before any free tier.
func (p Price) Cost(q float64) float64 {
	if len(p.Tiers) == 0 {
		return q / p.Per * p.USD
	}
	cost, below := 0.0, 0.0
	for _, t := range p.Tiers {
		upTo := t.UpTo
		if upTo == 0 {
			upTo = math.Inf(1)
		}
		in := math.Min(q, upTo) - below
		if in <= 0 {
			break
		}
		cost += in / p.Per * t.USD
		below = upTo
	}
	return cost
}

// FreeValue is what the free tier takes off the cost of q units: the
// first units' price, at most Free of them.
func (p Price) FreeValue(q float64) float64 { return p.Cost(math.Min(q, p.Free)) }
