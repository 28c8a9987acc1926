package redrive

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// SQSQueue is a stage's failure queue (stack output UploadFailureQueueUrl).
type SQSQueue struct {
	Client *sqs.Client
	URL    string
	// Visibility hides a received message from other receivers, and from
	// this run, for so many seconds: a message that fails again comes back
	// after it. Default 900 (15 minutes).
	Visibility int32
}

// Receive long-polls up to 10 messages for 2 s: an empty answer after a
// long poll means the queue has none visible (short polling may answer
// empty while some wait).
func (q *SQSQueue) Receive(ctx context.Context) ([]Message, error) {
	vis := q.Visibility
	if vis == 0 {
		vis = 900
	}
	out, err := q.Client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(q.URL), MaxNumberOfMessages: 10,
		WaitTimeSeconds: 2, VisibilityTimeout: vis})
	if err != nil {
		return nil, err
	}
	var msgs []Message
	for _, m := range out.Messages {
		msgs = append(msgs, Message{ID: aws.ToString(m.MessageId), Receipt: aws.ToString(m.ReceiptHandle), Body: []byte(aws.ToString(m.Body))})
	}
	return msgs, nil
}

// Delete deletes a message that was stored.
func (q *SQSQueue) Delete(ctx context.Context, m Message) error {
	_, err := q.Client.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(q.URL), ReceiptHandle: aws.String(m.Receipt)})
	return err
}

// LambdaInvoke invokes the function (stack output IngestFunctionName)
// synchronously (RequestResponse): Lambda says in FunctionError that the
// function failed, its error in the payload.
func LambdaInvoke(c *lambda.Client, function string) Invoke {
	return func(ctx context.Context, event []byte) error {
		out, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(function), InvocationType: lambdatypes.InvocationTypeRequestResponse, Payload: event})
		if err != nil {
			return err
		}
		if out.FunctionError != nil {
			var e struct {
				ErrorMessage string `json:"errorMessage"`
			}
			json.Unmarshal(out.Payload, &e)
			return fmt.Errorf("%s: %s", aws.ToString(out.FunctionError), e.ErrorMessage)
		}
		return nil
	}
}

// FileQueue is make local's dead-letter file: a message a line. Close
// writes back the lines not deleted.
type FileQueue struct {
	path     string
	lines    [][]byte
	received bool
	deleted  map[int]bool
}

// OpenFile reads a dead-letter file; a missing one is an empty queue.
func OpenFile(path string) (*FileQueue, error) {
	data, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	q := &FileQueue{path: path, deleted: map[int]bool{}}
	for _, l := range bytes.Split(data, []byte("\n")) {
		if len(bytes.TrimSpace(l)) > 0 {
			q.lines = append(q.lines, l)
		}
	}
	return q, nil
}

// Receive returns every line, once.
func (q *FileQueue) Receive(context.Context) ([]Message, error) {
	if q.received {
		return nil, nil
	}
	q.received = true
	var msgs []Message
	for i, l := range q.lines {
		msgs = append(msgs, Message{ID: "line " + strconv.Itoa(i+1), Receipt: strconv.Itoa(i), Body: l})
	}
	return msgs, nil
}

// Delete marks a line to drop.
func (q *FileQueue) Delete(_ context.Context, m Message) error {
	i, err := strconv.Atoi(m.Receipt)
	if err != nil || i < 0 || i >= len(q.lines) {
		return fmt.Errorf("no line %q", m.Receipt)
	}
	q.deleted[i] = true
	return nil
}

// Close writes the lines left to the file, replacing it whole (a new file
// renamed over it), or removes it when none is left.
func (q *FileQueue) Close() error {
	if len(q.deleted) == 0 {
		return nil
	}
	var left []byte
	for i, l := range q.lines {
		if !q.deleted[i] {
			left = append(append(left, l...), '\n')
		}
	}
	if len(left) == 0 {
		return os.Remove(q.path)
	}
	tmp, err := os.CreateTemp(filepath.Dir(q.path), ".redrive-*")
	if err != nil {
		return err
	}
	if _, err := tmp.Write(left); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return os.Rename(tmp.Name(), q.path)
}

// FileAside appends each message set aside to the file at path, one JSON
// object a line (its ID, why, when, and its body as it was), fsynced
// before the queue deletes the message.
func FileAside(path string) Aside {
	return func(_ context.Context, m Message, why string) error {
		line, err := json.Marshal(struct {
			ID     string          `json:"messageId"`
			Reason string          `json:"reason"`
			At     string          `json:"at"`
			Body   json.RawMessage `json:"body,omitempty"`
			Raw    string          `json:"raw,omitempty"`
		}{ID: m.ID, Reason: why, At: time.Now().UTC().Format(time.RFC3339), Body: jsonOrNil(m.Body), Raw: rawIfNotJSON(m.Body)})
		if err != nil {
			return err
		}
		f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
		if err != nil {
			return err
		}
		defer f.Close()
		if _, err := f.Write(append(line, '\n')); err != nil {
			return err
		}
		return f.Sync()
	}
}

func jsonOrNil(b []byte) json.RawMessage {
	if json.Valid(b) {
		return b
	}
	return nil
}

func rawIfNotJSON(b []byte) string {
	if json.Valid(b) {
		return ""
	}
	return string(b)
}
