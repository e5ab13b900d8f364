package audit

import (
	"sync"

	"github.com/podid/podid/internal/store"
)

// recordBuffers recycles the buffers events' records are written in:
// build writes a record into one, the event carries it through the queue
// to the store, and the append loop gives it back once the store has
// stored it (the store keeps a copy, store.Audit.AppendEvents). A record
// no longer costs an allocation of its size and a copy each request.
// What the free list holds is bounded (maxFreeRecords buffers of at most
// maxRecordBuf bytes), and a record kept in the queue holds at most twice
// its size (fit).
type recordBuffers struct {
	mu   sync.Mutex
	free [][]byte
}

const (
	// recordBufSize is a new buffer's capacity: an EKS write's record
	// (about 1.3 KB) fits.
	recordBufSize = 2 << 10
	// maxRecordBuf bounds the buffers kept for reuse; maxFreeRecords how
	// many (a few batches' worth).
	maxRecordBuf   = 16 << 10
	maxFreeRecords = 4 * DefaultBatchSize
)

// get returns an empty buffer to write a record in.
func (p *recordBuffers) get() []byte {
	p.mu.Lock()
	if n := len(p.free); n > 0 {
		b := p.free[n-1]
		p.free[n-1] = nil
		p.free = p.free[:n-1]
		p.mu.Unlock()
		return b
	}
	p.mu.Unlock()
	return make([]byte, 0, recordBufSize)
}

// fit returns record, written in a buffer from get, as the event carries
// it: in that buffer, or, when the buffer is more than twice its size, in
// one of its size (the buffer kept for another record), so a full queue
// holds no more than twice its records' bytes.
func (p *recordBuffers) fit(record []byte) []byte {
	if cap(record) <= 2*len(record) {
		return record
	}
	exact := make([]byte, len(record))
	copy(exact, record)
	p.put(record)
	return exact
}

// put keeps b for reuse, if there is room.
func (p *recordBuffers) put(b []byte) {
	if cap(b) > maxRecordBuf {
		return
	}
	p.mu.Lock()
	if len(p.free) < maxFreeRecords {
		p.free = append(p.free, b[:0])
	}
	p.mu.Unlock()
}

// release gives back the record buffers of events the store has stored.
func (p *recordBuffers) release(events []store.Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, e := range events {
		if len(p.free) == maxFreeRecords {
			return
		}
		if c := cap(e.Record); c > 0 && c <= maxRecordBuf {
			p.free = append(p.free, e.Record[:0])
		}
	}
}
