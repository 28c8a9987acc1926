package fleetapi

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsathena"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsglue"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	apihistory "github.com/fleetapi/fleetapi/api/history"
	"github.com/fleetapi/fleetapi/internal/construct/gobuild"
	"github.com/fleetapi/fleetapi/internal/shared/contract"
)

// The history's bounds.
const (
	// historyWriterTimeoutSeconds bounds one batch: up to HistoryBatchSize
	// uploads encoded and put, a few objects.
	historyWriterTimeoutSeconds = 120
	// historyWriterMemoryMiB holds a batch's rows while it is encoded:
	// 10,000 uploads of 10 samples of 10 signals are a million rows.
	historyWriterMemoryMiB = 1024
	// historyFailureRetentionDays keeps the records the writer could not
	// write, and the batches it gave up on, for two weeks.
	historyFailureRetentionDays = 14
	// historyToInfrequentAccessDays is when an object moves to Standard-IA
	// (S3's earliest), historyToGlacierIRDays to Glacier Instant Retrieval:
	// a year of history is mostly old, read by few queries, and both
	// classes are read by Athena as they are, in milliseconds.
	historyToInfrequentAccessDays = 30
	historyToGlacierIRDays        = 90
	// historyNoncurrentDays keeps an object a retried batch replaced, or a
	// bad deploy overwrote, for a month.
	historyNoncurrentDays    = 30
	historyMaxRecordAgeHours = 23
	// queryResultsDays is how long Athena's results are kept.
	queryResultsDays = 7
)

// historyResource is the fleet's history: the writer and its stream
// mapping, the bucket, the Glue table and the Athena workgroup.
type historyResource struct {
	bucket, results awss3.Bucket
	function        awslambda.Function
	alias           awslambda.Alias
	failures        awssqs.Queue
	mapping         awslambda.CfnEventSourceMapping
	database        awsglue.CfnDatabase
	table           awsglue.CfnTable
	workGroup       awsathena.CfnWorkGroup
	databaseName    string
	workGroupName   string
}

// newHistory defines the history: a writer (the one binary) that reads
// the events table's stream, INSERTs only, in batches of up to 10,000
// records gathered for 5 minutes, and puts them as Parquet into the
// history bucket, retrying a failed batch whole until its records are
// 24 hours old (the stream's retention), then naming it in its failure
// queue; a Glue table over the bucket with partition projection, an
// Athena workgroup that encrypts its results and cuts off a query at the
// props' scan limit, and the example queries of api/history.
func newHistory(scope constructs.Construct, p FleetApiProps, fns functions, t tables) *historyResource {
	stack := awscdk.Stack_Of(scope)
	h := &historyResource{}
	h.bucket = awss3.NewBucket(scope, jsii.String("HistoryBucket"), &awss3.BucketProps{
		Encryption:        awss3.BucketEncryption_S3_MANAGED,
		EnforceSSL:        jsii.Bool(true),
		BlockPublicAccess: awss3.BlockPublicAccess_BLOCK_ALL(),
		ObjectOwnership:   awss3.ObjectOwnership_BUCKET_OWNER_ENFORCED,
		// A put the writer repeats (a retried batch) or a bad deploy
		// makes replaces an object: the one before stays a month.
		Versioned: jsii.Bool(true),
		// The history outlives a stack deleted by mistake; its lifecycle
		// still expires it.
		RemovalPolicy: awscdk.RemovalPolicy_RETAIN,
		LifecycleRules: &[]*awss3.LifecycleRule{{
			Id: jsii.String("history-retention"),
			// Objects under 128 KB stay in Standard (S3's default
			// minimum for transitions): IA and Glacier IR would charge
			// them as 128 KB.
			Transitions: &[]*awss3.Transition{
				{StorageClass: awss3.StorageClass_INFREQUENT_ACCESS(), TransitionAfter: awscdk.Duration_Days(jsii.Number(historyToInfrequentAccessDays))},
				{StorageClass: awss3.StorageClass_GLACIER_INSTANT_RETRIEVAL(), TransitionAfter: awscdk.Duration_Days(jsii.Number(historyToGlacierIRDays))},
			},
			Expiration:                          p.HistoryRetention,
			NoncurrentVersionExpiration:         awscdk.Duration_Days(jsii.Number(historyNoncurrentDays)),
			AbortIncompleteMultipartUploadAfter: awscdk.Duration_Days(jsii.Number(1)),
		}},
		TransitionDefaultMinimumObjectSize: awss3.TransitionDefaultMinimumObjectSize_ALL_STORAGE_CLASSES_128_K,
	})
	h.results = awss3.NewBucket(scope, jsii.String("HistoryResults"), &awss3.BucketProps{
		Encryption:        awss3.BucketEncryption_S3_MANAGED,
		EnforceSSL:        jsii.Bool(true),
		BlockPublicAccess: awss3.BlockPublicAccess_BLOCK_ALL(),
		ObjectOwnership:   awss3.ObjectOwnership_BUCKET_OWNER_ENFORCED,
		RemovalPolicy:     awscdk.RemovalPolicy_RETAIN,
		LifecycleRules: &[]*awss3.LifecycleRule{{
			Id:                                  jsii.String("results-expire"),
			Expiration:                          awscdk.Duration_Days(jsii.Number(queryResultsDays)),
			AbortIncompleteMultipartUploadAfter: awscdk.Duration_Days(jsii.Number(1)),
		}},
	})

	h.failures = awssqs.NewQueue(scope, jsii.String("HistoryFailures"), &awssqs.QueueProps{
		Encryption:      awssqs.QueueEncryption_SQS_MANAGED,
		EnforceSSL:      jsii.Bool(true),
		RetentionPeriod: awscdk.Duration_Days(jsii.Number(historyFailureRetentionDays)),
		RemovalPolicy:   p.RemovalPolicy,
	})
	wp := p
	wp.MemorySize = jsii.Number(historyWriterMemoryMiB)
	// A binary of its own: the API's functions link no Parquet, no S3.
	hfns := fns
	hfns.build, hfns.code = goBinary(fns.build.moduleDir, gobuild.HistoryPackage, fns.build.cacheDir)
	h.function = newServiceFunction(scope, wp, hfns, "HistoryWriter", "FleetApi history writer: the events stream into the history bucket as Parquet",
		// No tracing, no platform lines: as the tracker's, its own line per
		// batch says what it wrote and how long it took.
		historyWriterTimeoutSeconds, awslambda.Tracing_DISABLED, awslambda.SystemLogLevel_WARN, map[string]*string{
			contract.EnvServes:          jsii.String(contract.ServesHistory),
			contract.EnvHistoryBucket:   h.bucket.BucketName(),
			contract.EnvHistoryFailures: h.failures.QueueUrl(),
		})
	for _, s := range []struct {
		actions  []string
		resource *string
	}{
		// Its objects, under the table's prefix, and nothing else.
		{[]string{"s3:PutObject"}, h.bucket.ArnForObjects(jsii.String(contract.HistoryPrefix + "/*"))},
		// A record it cannot decode; the mapping's on-failure destination.
		{[]string{"sqs:SendMessage"}, h.failures.QueueArn()},
		// The events table's stream, as the DynamoDB Developer Guide writes
		// it for a Lambda function.
		{[]string{"dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:ListStreams"}, jsii.String(*t.events.TableArn() + "/stream/*")},
	} {
		h.function.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{Actions: jsii.Strings(s.actions...), Resources: &[]*string{s.resource}}))
	}
	h.alias = newAlias(scope, "HistoryWriter", h.function)
	h.mapping = awslambda.NewCfnEventSourceMapping(scope, jsii.String("HistoryStream"), &awslambda.CfnEventSourceMappingProps{
		FunctionName:                   h.alias.FunctionArn(),
		EventSourceArn:                 t.events.TableStreamArn(),
		StartingPosition:               jsii.String("TRIM_HORIZON"),
		BatchSize:                      jsii.Number(contract.HistoryBatchSize),
		MaximumBatchingWindowInSeconds: jsii.Number(contract.DefaultHistoryBatchingWindow.Seconds()),
		ParallelizationFactor:          jsii.Number(1),
		// A failed batch is retried whole (its objects' names are the
		// batch's), never split, for up to 23 hours: then it goes to the
		// failure queue (its shard and sequence numbers) an hour before
		// its records leave the stream (24 hours), in time to read them.
		BisectBatchOnFunctionError: jsii.Bool(false),
		MaximumRetryAttempts:       jsii.Number(-1),
		MaximumRecordAgeInSeconds:  jsii.Number(historyMaxRecordAgeHours * 3600),
		FilterCriteria: &awslambda.CfnEventSourceMapping_FilterCriteriaProperty{
			Filters: &[]any{&awslambda.CfnEventSourceMapping_FilterProperty{Pattern: jsii.String(`{"eventName":["INSERT"]}`)}},
		},
		DestinationConfig: &awslambda.CfnEventSourceMapping_DestinationConfigProperty{
			OnFailure: &awslambda.CfnEventSourceMapping_OnFailureProperty{Destination: h.failures.QueueArn()},
		},
	})
	h.mapping.Node().AddDependency(h.function.Role(), h.alias)

	// The Glue table of api/history, its partitions projected from the
	// objects' keys (no crawler, no partition to add): Athena User Guide,
	// "Supported types for partition projection".
	h.databaseName, h.workGroupName = historyNames(scope)
	h.database = awsglue.NewCfnDatabase(scope, jsii.String("HistoryDatabase"), &awsglue.CfnDatabaseProps{
		CatalogId: stack.Account(),
		DatabaseInput: &awsglue.CfnDatabase_DatabaseInputProperty{
			Name:        jsii.String(h.databaseName),
			Description: jsii.String("FleetApi: the fleet's history"),
		},
	})
	columns := func(cs []apihistory.Column) *[]any {
		out := make([]any, len(cs))
		for i, c := range cs {
			out[i] = &awsglue.CfnTable_ColumnProperty{Name: jsii.String(c.Name), Type: jsii.String(c.Type), Comment: jsii.String(c.Comment)}
		}
		return &out
	}
	location := "s3://" + *h.bucket.BucketName() + "/" + contract.HistoryPrefix + "/"
	retentionDays := strconv.FormatFloat(*p.HistoryRetention.ToDays(nil), 'f', 0, 64)
	h.table = awsglue.NewCfnTable(scope, jsii.String("HistoryTable"), &awsglue.CfnTableProps{
		CatalogId:    stack.Account(),
		DatabaseName: jsii.String(h.databaseName),
		TableInput: &awsglue.CfnTable_TableInputProperty{
			Name:          jsii.String(apihistory.Table),
			Description:   jsii.String("Every sample the events table stored, a row per signal"),
			TableType:     jsii.String("EXTERNAL_TABLE"),
			PartitionKeys: columns(apihistory.PartitionKeys),
			Parameters: map[string]any{
				"classification":               "parquet",
				"projection.enabled":           "true",
				"projection.day.type":          "date",
				"projection.day.format":        "yyyy-MM-dd",
				"projection.day.range":         "NOW-" + retentionDays + "DAYS,NOW",
				"projection.day.interval":      "1",
				"projection.day.interval.unit": "DAYS",
				"projection.hour.type":         "integer",
				"projection.hour.range":        "0,23",
				"projection.hour.digits":       "2",
				"storage.location.template":    location + "day=${day}/hour=${hour}/",
				"parquet.ignore.statistics":    "false",
				"has_encrypted_data":           "false",
				"EXTERNAL":                     "TRUE",
			},
			StorageDescriptor: &awsglue.CfnTable_StorageDescriptorProperty{
				Columns:      columns(apihistory.Columns),
				Location:     jsii.String(location),
				InputFormat:  jsii.String("org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"),
				OutputFormat: jsii.String("org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"),
				SerdeInfo: &awsglue.CfnTable_SerdeInfoProperty{
					SerializationLibrary: jsii.String("org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"),
				},
			},
		},
	})
	h.table.Node().AddDependency(h.database)

	h.workGroup = awsathena.NewCfnWorkGroup(scope, jsii.String("HistoryWorkGroup"), &awsathena.CfnWorkGroupProps{
		Name:        jsii.String(h.workGroupName),
		Description: jsii.String("FleetApi: queries of the fleet's history"),
		// Its named queries go with it.
		RecursiveDeleteOption: jsii.Bool(true),
		WorkGroupConfiguration: &awsathena.CfnWorkGroup_WorkGroupConfigurationProperty{
			// A client's own settings cannot lift the limit or the
			// encryption.
			EnforceWorkGroupConfiguration:   jsii.Bool(true),
			BytesScannedCutoffPerQuery:      jsii.Number(*p.HistoryScanLimitGB * 1e9),
			PublishCloudWatchMetricsEnabled: jsii.Bool(true),
			EngineVersion:                   &awsathena.CfnWorkGroup_EngineVersionProperty{SelectedEngineVersion: jsii.String("Athena engine version 3")},
			ResultConfiguration: &awsathena.CfnWorkGroup_ResultConfigurationProperty{
				OutputLocation:          jsii.String("s3://" + *h.results.BucketName() + "/"),
				EncryptionConfiguration: &awsathena.CfnWorkGroup_EncryptionConfigurationProperty{EncryptionOption: jsii.String("SSE_S3")},
			},
		},
	})
	queries, err := apihistory.Queries()
	if err != nil {
		panic(fmt.Errorf("fleetapi: %w", err))
	}
	for i, q := range queries {
		nq := awsathena.NewCfnNamedQuery(scope, jsii.String(fmt.Sprintf("HistoryQuery%02d", i+1)), &awsathena.CfnNamedQueryProps{
			Name: jsii.String(q.Name), Description: jsii.String(q.Description), Database: jsii.String(h.databaseName),
			QueryString: jsii.String(q.SQL), WorkGroup: h.workGroup.Ref(),
		})
		nq.Node().AddDependency(h.workGroup)
	}
	return h
}

// historyNames are the Glue database and the Athena workgroup of the
// history of the FleetApi scope: named after its stack and ID, as the
// account's names must differ between stages.
func historyNames(scope constructs.Construct) (database, workGroup string) {
	stack := awscdk.Stack_Of(scope)
	database = strings.ToLower(notRuleName.ReplaceAllString(*stack.StackName()+"_"+*scope.Node().Id(), "_"))
	workGroup = notRuleName.ReplaceAllString(*stack.StackName()+"-"+*scope.Node().Id(), "-") + "-History"
	return database, workGroup
}

// grantRead lets grantee query the history through the workgroup: run
// and read its queries and named queries, read the table's definition and
// objects, and write and read the workgroup's results (Athena User Guide,
// "Identity and access management in Athena").
func (h *historyResource) grantRead(grantee awsiam.IGrantable) awsiam.Grant {
	stack := awscdk.Stack_Of(h.bucket)
	arn := func(service, resource string) string {
		return fmt.Sprintf("arn:%s:%s:%s:%s:%s", *stack.Partition(), service, *stack.Region(), *stack.Account(), resource)
	}
	statements := []struct {
		actions   []string
		resources []*string
	}{
		{[]string{"athena:StartQueryExecution", "athena:StopQueryExecution", "athena:GetQueryExecution", "athena:GetQueryResults",
			"athena:GetQueryRuntimeStatistics", "athena:GetWorkGroup", "athena:ListQueryExecutions", "athena:ListNamedQueries", "athena:GetNamedQuery", "athena:BatchGetNamedQuery"},
			*jsii.Strings(arn("athena", "workgroup/"+h.workGroupName))},
		{[]string{"glue:GetDatabase", "glue:GetTable", "glue:GetPartition", "glue:GetPartitions"},
			*jsii.Strings(arn("glue", "catalog"), arn("glue", "database/"+h.databaseName), arn("glue", "table/"+h.databaseName+"/"+apihistory.Table))},
		{[]string{"s3:GetObject"}, []*string{h.bucket.ArnForObjects(jsii.String(contract.HistoryPrefix + "/*"))}},
		{[]string{"s3:ListBucket", "s3:GetBucketLocation"}, []*string{h.bucket.BucketArn(), h.results.BucketArn()}},
		{[]string{"s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"}, []*string{h.results.ArnForObjects(jsii.String("*"))}},
	}
	var grant awsiam.Grant
	for _, s := range statements {
		g := awsiam.Grant_AddToPrincipal(&awsiam.GrantOnPrincipalOptions{Grantee: grantee, Actions: jsii.Strings(s.actions...), ResourceArns: &s.resources})
		if grant == nil {
			grant = g
		} else {
			grant = grant.Combine(g)
		}
	}
	return grant
}

// HistoryBucket is the bucket of the fleet's history, Parquet under
// samples/day=YYYY-MM-DD/hour=HH/; nil without History.
func (f *FleetApi) HistoryBucket() awss3.IBucket {
	if f.history == nil {
		return nil
	}
	return f.history.bucket
}

// HistoryWriterFunction writes the events table's stream into the
// history; nil without History.
func (f *FleetApi) HistoryWriterFunction() awslambda.IFunction {
	if f.history == nil {
		return nil
	}
	return f.history.function
}

// HistoryFailures is the queue of the records the history writer could not
// decode and of the batches it gave up on; nil without History.
func (f *FleetApi) HistoryFailures() awssqs.IQueue {
	if f.history == nil {
		return nil
	}
	return f.history.failures
}

// HistoryDatabaseName is the Glue database of the history's table
// (HistoryTableName); nil without History.
func (f *FleetApi) HistoryDatabaseName() *string {
	if f.history == nil {
		return nil
	}
	return jsii.String(f.history.databaseName)
}

// HistoryTableName is the history's table, "samples".
func (f *FleetApi) HistoryTableName() *string {
	if f.history == nil {
		return nil
	}
	return jsii.String(apihistory.Table)
}

// HistoryWorkGroupName is the Athena workgroup that queries the history,
// with its example queries; nil without History.
func (f *FleetApi) HistoryWorkGroupName() *string {
	if f.history == nil {
		return nil
	}
	return f.history.workGroup.Ref()
}

// GrantHistoryRead lets grantee query the history through its workgroup
// (the fleet-read role may already). It panics without History, as CDK
// constructors do on a call their props cannot serve.
func (f *FleetApi) GrantHistoryRead(grantee awsiam.IGrantable) awsiam.Grant {
	if f.history == nil {
		panic(fmt.Errorf("fleetapi %q: GrantHistoryRead needs History", *f.Node().Id()))
	}
	return f.history.grantRead(grantee)
}
