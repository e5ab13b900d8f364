package admin

import (
	"net/http"
	"net/url"

	"github.com/podid/podid/eksapi"
	"github.com/podid/podid/internal/authz"
)

func clusterPath(cluster string) string { return Prefix + "clusters/" + url.PathEscape(cluster) }

// authorize asks the Authorizer about the caller of r.
func (h *Handler) authorize(r *http.Request, action, resource string) error {
	return authz.Check(r.Context(), h.cfg.Authorizer, action, resource, nil)
}

func invalidParameter(msg string) error { return eksapi.NewError(eksapi.CodeInvalidParameter, msg) }
