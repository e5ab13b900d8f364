package admin

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/google/uuid"

	"github.com/podid/podid/eksapi"
	"github.com/podid/podid/internal/authz"
	"github.com/podid/podid/internal/store"
)

// maxBody bounds an admin request body.
const maxBody = 64 << 10

func clusterPath(cluster string) string { return Prefix + "clusters/" + url.PathEscape(cluster) }

// serve adapts an operation: its result is the JSON body of a 200, its
// error the restJson1 error.
func (h *Handler) serve(op func(r *http.Request) (any, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		out, err := op(r)
		if err != nil {
			writeError(w, h.apiError(r, err))
			return
		}
		b, err := json.Marshal(out)
		if err != nil {
			writeError(w, h.apiError(r, err))
			return
		}
		setRequestID(w)
		w.Header().Set("Content-Type", "application/json")
		w.Write(b)
	})
}

// apiError maps an admin API failure.
func (h *Handler) apiError(r *http.Request, err error) *eksapi.Error {
	var ae *eksapi.Error
	var denied *authz.DeniedError
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.As(err, &denied):
		return eksapi.NewError(eksapi.CodeAccessDenied, denied.Error())
	case errors.Is(err, store.ErrNotFound):
		name := r.PathValue("name")
		if name == "" {
			name = r.URL.Query().Get("cluster")
		}
		return eksapi.NewError(eksapi.CodeResourceNotFound, "No cluster found for name: "+name+".").WithCluster(name)
	}
	h.log.Error("admin: request failed", "path", r.URL.Path, "err", err)
	return eksapi.NewError(eksapi.CodeServer, "An internal error occurred.")
}

func writeError(w http.ResponseWriter, e *eksapi.Error) {
	setRequestID(w)
	e.WriteJSON(w)
}

// setRequestID sets X-Amzn-RequestId unless the server's middleware has.
func setRequestID(w http.ResponseWriter) {
	if w.Header().Get("X-Amzn-RequestId") == "" {
		w.Header().Set("X-Amzn-RequestId", uuid.NewString())
	}
}

// decodeBody reads a JSON body of at most maxBody bytes into v.
func decodeBody(r *http.Request, v any) error {
	b, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	switch {
	case err != nil:
		return eksapi.NewError(eksapi.CodeInvalidRequest, "The request body could not be read.")
	case len(b) > maxBody:
		return eksapi.NewError(eksapi.CodeRequestEntityTooLarge, fmt.Sprintf("Request body is larger than %d bytes.", maxBody))
	case len(b) == 0:
		b = []byte("{}")
	}
	if err := json.Unmarshal(b, v); err != nil {
		return eksapi.NewError(eksapi.CodeSerialization, "The request body is not valid JSON for this operation.")
	}
	return nil
}

func invalidParameter(msg string) error { return eksapi.NewError(eksapi.CodeInvalidParameter, msg) }
