package httpx

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
)

// ReadBody returns r's whole body, bounded by the host's limit (a
// *http.MaxBytesError beyond it). The host reads a body once: later calls
// (the authentication's hash, then the handler's decoding) get the same
// bytes, and r.Body is left readable for handlers that read it themselves.
func ReadBody(r *http.Request) ([]byte, error) {
	ri := info(r.Context())
	if ri != nil && ri.read {
		return ri.body, ri.bodyErr
	}
	b, err := readBody(r, ri)
	if err == nil {
		r.Body = io.NopCloser(bytes.NewReader(b))
	}
	if ri != nil {
		ri.body, ri.bodyErr, ri.read = b, err, true
	}
	return b, err
}

func readBody(r *http.Request, ri *reqInfo) ([]byte, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, nil
	}
	defer r.Body.Close()
	if n := r.ContentLength; n >= 0 && ri != nil {
		// One allocation when the request says its length.
		if n > ri.limit {
			return nil, &http.MaxBytesError{Limit: ri.limit}
		}
		b := make([]byte, n)
		if _, err := io.ReadFull(r.Body, b); err != nil {
			return nil, &DecodeError{err}
		}
		return b, nil
	}
	b, err := io.ReadAll(r.Body)
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return nil, mbe
	case err != nil:
		return nil, &DecodeError{err}
	}
	return b, nil
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
	var b []byte
	var err error
	if a, ok := v.(JSONAppender); ok {
		b, err = a.AppendJSON(nil)
	} else {
		b, err = json.Marshal(v)
	}
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	w.Write(b)
	return nil
}

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
