package agent

import (
	"bufio"
	"cmp"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/fleetapi/fleetapi/client"
)

// The journal is a directory of append-only segment files, SEQ.journal,
// named after the first batch they hold. A segment is a sequence of
// records: a 4-byte big-endian length, the CRC-32C of the body, the body
// (JSON: a batch, {"seq":N,"samples":[…]}, or the acknowledgement of one,
// {"ack":N}).
//
// When it writes to disk:
//   - a batch is written and fsynced before it is offered to the uploader:
//     a batch that was ever sent survives a power cut;
//   - an acknowledgement is written without fsync: a power cut can lose it,
//     and the batch is then sent again, which the API stores once (its event
//     ID is the hash of its samples);
//   - a full segment is fsynced before the next is created, and the
//     directory after a segment is created, so only the newest segment can
//     end in a torn record; Open drops such a tail (its batch had not been
//     sent: Append had not returned);
//   - a segment whose batches are all acknowledged is deleted, unless it is
//     the one being written.
type journal struct {
	dir          string
	segmentBytes int64
	mu           sync.Mutex
	segs         []*segment // oldest first; the last is written
	f            *os.File   // the last segment, open for appending
	next         uint64     // the next batch's sequence number
	pending      map[uint64]pendingBatch
	bytes        int64 // of every segment
}

type segment struct {
	path  string
	size  int64
	live  int // batches not acknowledged
	first uint64
}

type pendingBatch struct {
	batch Batch
	seg   *segment
}

type record struct {
	Seq     uint64          `json:"seq,omitempty"`
	Samples []client.Sample `json:"samples,omitempty"`
	Ack     uint64          `json:"ack,omitempty"`
}

const (
	segmentSuffix = ".journal"
	headerBytes   = 8
	// maxRecordBytes bounds a record's body on reading: a length beyond it
	// is a damaged header, not a batch (a batch is at most MaxPayloadBytes).
	maxRecordBytes = 4 * MaxPayloadBytes
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// openJournal reads every segment of dir (made if absent), keeps the
// batches not acknowledged, deletes the segments with none, and starts a
// new segment to append to.
func openJournal(dir string, segmentBytes int64) (*journal, []Batch, Recovery, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, nil, Recovery{}, fmt.Errorf("journal %s: %w", dir, err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, Recovery{}, fmt.Errorf("journal %s: %w", dir, err)
	}
	var names []string
	for _, e := range entries {
		if !e.IsDir() && strings.HasSuffix(e.Name(), segmentSuffix) {
			names = append(names, e.Name())
		}
	}
	slices.Sort(names) // zero-padded sequence numbers: oldest first
	j := &journal{dir: dir, segmentBytes: segmentBytes, next: 1, pending: map[uint64]pendingBatch{}}
	var rec Recovery
	for i, name := range names {
		seg := &segment{path: filepath.Join(dir, name)}
		torn, err := j.read(seg, i == len(names)-1)
		if err != nil {
			return nil, nil, Recovery{}, err
		}
		rec.TornBytes += torn
		j.segs = append(j.segs, seg)
		j.bytes += seg.size
	}
	for _, p := range j.pending {
		rec.Batches++
		rec.Samples += len(p.batch.Samples)
	}
	j.removeAcknowledged()
	if err := j.startSegment(); err != nil {
		return nil, nil, Recovery{}, err
	}
	return j, j.pendingBatches(), rec, nil
}

// read replays one segment. A record that ends early or fails its CRC at
// the end of the newest segment is a write a power cut tore: the file is
// truncated there. Anywhere else the journal is damaged.
func (j *journal) read(seg *segment, newest bool) (torn int64, err error) {
	f, err := os.OpenFile(seg.path, os.O_RDWR, 0)
	if err != nil {
		return 0, fmt.Errorf("journal: %w", err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return 0, fmt.Errorf("journal: %w", err)
	}
	r := bufio.NewReader(f)
	var off int64
	for {
		body, n, err := readRecord(r)
		if err == io.EOF {
			break
		}
		if err == nil {
			var rc record
			if err = json.Unmarshal(body, &rc); err == nil {
				j.apply(seg, rc)
				off += n
				continue
			}
		}
		if !newest {
			return 0, fmt.Errorf("journal %s: damaged record at offset %d: %v", seg.path, off, err)
		}
		torn = info.Size() - off
		if err := f.Truncate(off); err != nil {
			return 0, fmt.Errorf("journal %s: drop the torn record at offset %d: %w", seg.path, off, err)
		}
		if err := f.Sync(); err != nil {
			return 0, fmt.Errorf("journal %s: %w", seg.path, err)
		}
		break
	}
	seg.size = off
	return torn, nil
}

// readRecord reads one record: its body and its size on disk.
func readRecord(r *bufio.Reader) ([]byte, int64, error) {
	var h [headerBytes]byte
	if n, err := io.ReadFull(r, h[:]); err != nil {
		if err == io.EOF && n == 0 {
			return nil, 0, io.EOF
		}
		return nil, 0, errors.New("a record's header ends early")
	}
	size := binary.BigEndian.Uint32(h[:4])
	if size == 0 || size > maxRecordBytes {
		return nil, 0, fmt.Errorf("a record of %d bytes", size)
	}
	body := make([]byte, size)
	if _, err := io.ReadFull(r, body); err != nil {
		return nil, 0, errors.New("a record ends early")
	}
	if crc32.Checksum(body, crcTable) != binary.BigEndian.Uint32(h[4:]) {
		return nil, 0, errors.New("a record's checksum differs")
	}
	return body, headerBytes + int64(size), nil
}

func (j *journal) apply(seg *segment, rc record) {
	switch {
	case rc.Seq > 0:
		if seg.live == 0 && seg.first == 0 {
			seg.first = rc.Seq
		}
		seg.live++
		j.pending[rc.Seq] = pendingBatch{batch: Batch{Seq: rc.Seq, Samples: rc.Samples}, seg: seg}
		j.next = max(j.next, rc.Seq+1)
	case rc.Ack > 0:
		if p, ok := j.pending[rc.Ack]; ok {
			p.seg.live--
			delete(j.pending, rc.Ack)
		}
	}
}

// pendingBatches are the batches not acknowledged, oldest first.
func (j *journal) pendingBatches() []Batch {
	var out []Batch
	for _, p := range j.pending {
		out = append(out, p.batch)
	}
	slices.SortFunc(out, func(a, b Batch) int { return cmp.Compare(a.Seq, b.Seq) })
	return out
}

// append writes a batch, fsynced, and returns it with its sequence number.
func (j *journal) append(samples []client.Sample) (Batch, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f == nil {
		return Batch{}, errors.New("journal closed")
	}
	cur := j.segs[len(j.segs)-1]
	if cur.size >= j.segmentBytes {
		if err := j.roll(); err != nil {
			return Batch{}, err
		}
		cur = j.segs[len(j.segs)-1]
	}
	b := Batch{Seq: j.next, Samples: samples}
	if err := j.write(cur, record{Seq: b.Seq, Samples: samples}); err != nil {
		return Batch{}, err
	}
	if err := j.f.Sync(); err != nil {
		return Batch{}, fmt.Errorf("journal %s: fsync: %w", cur.path, err)
	}
	j.next++
	if cur.first == 0 {
		cur.first = b.Seq
	}
	cur.live++
	j.pending[b.Seq] = pendingBatch{batch: b, seg: cur}
	return b, nil
}

// ack records that batch seq was acknowledged (not fsynced: see above) and
// deletes the segments left with no batch to send.
func (j *journal) ack(seq uint64) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	p, ok := j.pending[seq]
	if !ok || j.f == nil {
		return nil
	}
	if err := j.write(j.segs[len(j.segs)-1], record{Ack: seq}); err != nil {
		return err
	}
	delete(j.pending, seq)
	p.seg.live--
	j.removeAcknowledged()
	return nil
}

func (j *journal) write(cur *segment, rc record) error {
	body, err := json.Marshal(rc)
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	buf := make([]byte, headerBytes, headerBytes+len(body))
	binary.BigEndian.PutUint32(buf[:4], uint32(len(body)))
	binary.BigEndian.PutUint32(buf[4:], crc32.Checksum(body, crcTable))
	buf = append(buf, body...)
	n, err := j.f.Write(buf)
	cur.size += int64(n)
	j.bytes += int64(n)
	if err != nil {
		return fmt.Errorf("journal %s: %w", cur.path, err)
	}
	return nil
}

// roll fsyncs the segment being written (its acknowledgements) and starts
// the next.
func (j *journal) roll() error {
	if err := j.f.Sync(); err != nil {
		return fmt.Errorf("journal: fsync: %w", err)
	}
	if err := j.f.Close(); err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	j.f = nil
	if err := j.startSegment(); err != nil {
		return err
	}
	j.removeAcknowledged()
	return nil
}

// startSegment creates the segment the next batch goes to, and fsyncs the
// directory so that the file outlives a power cut.
func (j *journal) startSegment() error {
	path := filepath.Join(j.dir, segmentName(j.next))
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("journal: %w", err)
	}
	if err := syncDir(j.dir); err != nil {
		f.Close()
		return err
	}
	j.f = f
	if n := len(j.segs); n > 0 && j.segs[n-1].path == path {
		return nil // the newest segment held acknowledgements only: go on with it
	}
	j.segs = append(j.segs, &segment{path: path, size: info.Size()})
	j.bytes += info.Size()
	return nil
}

// removeAcknowledged deletes the oldest segments while they have no batch
// left to send, never the one written. Oldest first only: a segment's
// acknowledgements may be of batches in older ones, which must not come
// back without them.
func (j *journal) removeAcknowledged() {
	for len(j.segs) > 0 {
		s := j.segs[0]
		if s.live > 0 || (j.f != nil && len(j.segs) == 1) {
			return
		}
		if err := os.Remove(s.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return // tried again after the next acknowledgement
		}
		j.bytes -= s.size
		j.segs = j.segs[1:]
	}
}

// size is the bytes on disk of every segment.
func (j *journal) size() int64 {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.bytes
}

// close fsyncs and closes the segment written; with nothing left to send,
// it is deleted too.
func (j *journal) close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f == nil {
		return nil
	}
	err := j.f.Sync()
	if cerr := j.f.Close(); err == nil {
		err = cerr
	}
	j.f = nil
	j.removeAcknowledged()
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("journal %s: fsync the directory: %w", dir, err)
	}
	return nil
}

// segmentName is the file name of the segment starting at seq: zero-padded,
// so that names sort as their sequence numbers.
func segmentName(seq uint64) string { return fmt.Sprintf("%020d%s", seq, segmentSuffix) }
