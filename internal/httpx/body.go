package httpx

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"sync"
	"time"
	"unicode/utf8"
)

// ReadBody returns r's whole body, bounded by the host's limit (a
// *http.MaxBytesError beyond it), its body budget (ErrBodyBudget when the
// bodies being received already hold it) and its read deadline
// (ErrBodyTimeout). The host reads a body once: later calls (the
// authentication's hash, then the handler's decoding) get the same bytes,
// and r.Body is left readable for handlers that read it themselves.
func ReadBody(r *http.Request) ([]byte, error) {
	ri := info(r.Context())
	if ri != nil && ri.read {
		return ri.body, ri.bodyErr
	}
	b, err := readBody(r, ri)
	if err == nil {
		// One allocation (none in the host), not NopCloser's and the
		// reader's.
		var again *bodyAgain
		if ri != nil {
			again = &ri.again
		} else {
			again = &bodyAgain{}
		}
		again.Reset(b)
		r.Body = again
	}
	if ri != nil {
		ri.body, ri.bodyErr, ri.read = b, err, true
	}
	return b, err
}

// bodyAgain is a body ReadBody has read, to be read again.
type bodyAgain struct{ bytes.Reader }

func (*bodyAgain) Close() error { return nil }

// Errors of ReadBody.
var (
	// ErrBodyBudget: the bodies being received hold the host's body
	// budget (Config.BodyBudget); the request is refused unread.
	ErrBodyBudget = errors.New("the request body budget is in use by other requests")
	// ErrBodyTimeout: the body did not arrive within the host's read
	// deadline (Config.BodyReadTimeout).
	ErrBodyTimeout = errors.New("the request body was not received in time")
)

func readBody(r *http.Request, ri *reqInfo) (_ []byte, err error) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, nil
	}
	if ri == nil || ri.host == nil || ri.w == nil {
		defer r.Body.Close()
		if ri == nil || ri.host == nil {
			return bodyResult(io.ReadAll(r.Body))
		}
	} else {
		defer func() {
			if err != nil {
				ri.abandonBody() // the server closes the body after the answer
			} else {
				r.Body.Close()
			}
		}()
	}
	n := r.ContentLength
	if n > ri.limit {
		return nil, &http.MaxBytesError{Limit: ri.limit}
	}
	if n == 0 {
		return []byte{}, nil
	}
	// Reserve what the body may grow to, before reading any of it.
	reserve := n
	if n < 0 {
		reserve = ri.limit
	}
	if b := ri.host.budget; b != nil {
		if !b.TryAcquire(reserve) {
			return nil, ErrBodyBudget
		}
		defer b.Release(reserve)
	}
	if d := ri.host.cfg.BodyReadTimeout; d > 0 && ri.w != nil {
		rc := http.NewResponseController(ri.w)
		// Not every connection supports deadlines (ErrNotSupported);
		// the server's ReadTimeout then bounds the read.
		if rc.SetReadDeadline(time.Now().Add(d)) == nil {
			defer func() {
				// Cleared once the body is in: the connection's next read
				// is the server's (the next request, or its check that
				// the client is still there). Left after a failure, so
				// closing the body does not wait for the rest of it.
				if err == nil {
					rc.SetReadDeadline(time.Time{})
				}
			}()
		}
	}
	if n < 0 {
		return bodyResult(io.ReadAll(r.Body))
	}
	return bodyResult(readDeclared(r.Body, n))
}

// abandonBody gives up the rest of a body that will not be read (refused,
// too large, too slow, broken): the connection is closed after the answer,
// and its reads fail drainWindow from now. The body is left open: net/http
// closes it once the answer is written, and its close reads and discards
// what is left, up to 256 KiB (beyond that it shuts the connection's
// sending side and waits half a second before closing it). A client still
// sending a body too large for the limit so finishes, reads the answer and
// sees the connection end, where closing it with its bytes unread reset
// it, and the client, mid-write, often lost the answer (TestQueryProtocol's
// body too large, eksauth's oversized). A stalled upload holds the
// connection for drainWindow more, not until its read deadline.
func (ri *reqInfo) abandonBody() {
	ri.w.Header().Set("Connection", "close")
	_ = http.NewResponseController(ri.w).SetReadDeadline(time.Now().Add(drainWindow))
}

// drainWindow bounds how long a refused body's rest is read and discarded
// after the answer.
const drainWindow = 500 * time.Millisecond

// firstAlloc is the buffer a declared body starts with: most bodies fit;
// a larger one grows as its bytes arrive, so a stalled upload holds what
// it sent, not what it declared.
const firstAlloc = 16 << 10

// readDeclared reads a body of declared length n.
func readDeclared(body io.Reader, n int64) ([]byte, error) {
	b := make([]byte, 0, min(n, firstAlloc))
	for int64(len(b)) < n {
		if len(b) == cap(b) {
			b = slices.Grow(b, int(min(n-int64(len(b)), int64(len(b)))))
		}
		m, err := body.Read(b[len(b):min(cap(b), int(n))])
		b = b[:len(b)+m]
		switch {
		case err == io.EOF && int64(len(b)) < n:
			return nil, io.ErrUnexpectedEOF
		case err == io.EOF:
			return b, nil
		case err != nil:
			return nil, err
		}
	}
	return b, nil
}

// bodyResult classifies a body read's failure: the limit, the deadline,
// or a body that could not be read.
func bodyResult(b []byte, err error) ([]byte, error) {
	if err == nil {
		return b, nil
	}
	return nil, bodyError(err)
}

// bodyError is bodyResult's failure (apart, so that a body read well
// does not allocate errors.As's target).
func bodyError(err error) error {
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return mbe
	case errors.Is(err, os.ErrDeadlineExceeded):
		return fmt.Errorf("%w: %w", ErrBodyTimeout, err)
	}
	return &DecodeError{err}
}

var errTrailingData = errors.New("unexpected data after the JSON object")

// DecodeJSON reads r's JSON body into v: a *DecodeError when it is not one
// JSON value of v's shape. An empty body leaves v zero (the SDKs send no
// body when no body member is set).
func DecodeJSON(r *http.Request, v any) error {
	b, err := ReadBody(r)
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return nil
	}
	if utf8.Valid(b) && flatStrings(b, v) {
		return nil
	}
	b, err = strictJSON(b, v)
	if err != nil {
		return &DecodeError{err}
	}
	if err := json.Unmarshal(b, v); err != nil {
		return &DecodeError{err}
	}
	return nil
}

// WriteJSON writes v as a 200 JSON response, or returns the error of
// encoding it (for the host to map).
func WriteJSON(w http.ResponseWriter, v any) error {
	if a, ok := v.(JSONAppender); ok {
		// Into a pooled buffer: the ResponseWriter copies what it is given.
		bp := jsonBufs.Get().(*[]byte)
		defer func() {
			if cap(*bp) <= maxPooledJSON {
				jsonBufs.Put(bp)
			}
		}()
		b, err := a.AppendJSON((*bp)[:0])
		if err != nil {
			return err
		}
		*bp = b
		writeJSONBody(w, b)
		return nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	writeJSONBody(w, b)
	return nil
}

func writeJSONBody(w http.ResponseWriter, b []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	w.Write(b)
}

// jsonBufs pools WriteJSON's buffers for JSONAppenders; one grown past
// maxPooledJSON is left to the garbage collector.
var jsonBufs = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

const maxPooledJSON = 64 << 10

// JSONAppender is a response that writes its own JSON, byte for byte what
// json.Marshal would write, for WriteJSON to skip reflection on a hot path.
type JSONAppender interface {
	AppendJSON(b []byte) ([]byte, error)
}

// WriteXML writes v as a 200 awsQuery (XML) response, or returns the
// error of encoding it.
func WriteXML(w http.ResponseWriter, v any) error {
	b, err := xml.Marshal(v)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(http.StatusOK)
	w.Write([]byte(xml.Header))
	w.Write(b)
	return nil
}

// JSON adapts an operation with a JSON input and output to a HandlerFunc:
// decode the body into In (unless In is NoInput), call fn, encode its
// result. fn may set headers on w but does not write the body.
func JSON[In, Out any](fn func(w http.ResponseWriter, r *http.Request, in *In) (*Out, error)) HandlerFunc {
	_, bodyless := any((*In)(nil)).(*NoInput)
	return func(w http.ResponseWriter, r *http.Request) error {
		in := new(In)
		if !bodyless {
			if err := DecodeJSON(r, in); err != nil {
				return err
			}
		}
		out, err := fn(w, r, in)
		if err != nil {
			return err
		}
		return WriteJSON(w, out)
	}
}

// NoInput is the input of operations without a body; their body, if any,
// is not read.
type NoInput struct{}
