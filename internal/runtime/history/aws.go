package history

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// S3API is what the writer calls of S3.
type S3API interface {
	PutObject(ctx context.Context, in *s3.PutObjectInput, opts ...func(*s3.Options)) (*s3.PutObjectOutput, error)
}

// Bucket is the stage's history bucket: a put is a PutObject, encrypted
// by the bucket's default encryption.
type Bucket struct {
	S3   S3API
	Name string
}

// ParquetContentType is the media type of Apache Parquet (IANA,
// application/vnd.apache.parquet).
const ParquetContentType = "application/vnd.apache.parquet"

// Put writes body at key.
func (b Bucket) Put(ctx context.Context, key string, body []byte) error {
	_, err := b.S3.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(b.Name), Key: aws.String(key), Body: bytes.NewReader(body),
		ContentLength: aws.Int64(int64(len(body))), ContentType: aws.String(ParquetContentType),
	})
	if err != nil {
		return fmt.Errorf("put s3://%s/%s: %w", b.Name, key, err)
	}
	return nil
}

// SQSAPI is what the writer calls of SQS.
type SQSAPI interface {
	SendMessage(ctx context.Context, in *sqs.SendMessageInput, opts ...func(*sqs.Options)) (*sqs.SendMessageOutput, error)
}

// Queue is the writer's failure queue: a failure is a message of its JSON.
type Queue struct {
	SQS SQSAPI
	URL string
}

// Keep sends f to the queue.
func (q Queue) Keep(ctx context.Context, f Failure) error {
	body, err := json.Marshal(f)
	if err != nil {
		return fmt.Errorf("history failure: %w", err)
	}
	if _, err := q.SQS.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(q.URL), MessageBody: aws.String(string(body))}); err != nil {
		return fmt.Errorf("send to %s: %w", q.URL, err)
	}
	return nil
}
