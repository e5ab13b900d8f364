// Package eksauth is podid's EKS Auth service: AssumeRoleForPodIdentity,
// which turns a pod's service-account token into AWS credentials for its
// association's role (or, with a target role, for the target role after
// two role assumptions in sequence), speaking EKS Auth's restJson1 wire
// protocol exactly (spec §6, §7).
//
// Its Routes also carry the OIDC discovery of podid-issued clusters:
//
//	POST /clusters/{clusterName}/assume-role-for-pod-identity   EKS Auth
//	GET  /clusters-oidc/{name}/.well-known/openid-configuration OIDC discovery
//	GET  /clusters-oidc/{name}/keys                             public JWKS
//
// Both read associations and clusters from an assoccache.Cache and never
// the store.
package eksauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/podid/podid/eksapi"
	"github.com/podid/podid/internal/assoccache"
	"github.com/podid/podid/internal/authz"
	"github.com/podid/podid/internal/satoken"
	"github.com/podid/podid/internal/store"
	"github.com/podid/podid/internal/sts"
)

// Assumer makes role assumptions: *sts.Service (podid's own STS) or
// *sts.Upstream (a real STS).
type Assumer interface {
	AssumeRole(ctx context.Context, in sts.AssumeRoleInput) (sts.AssumeRoleOutput, error)
}

// Config configures a Handler. Every field but Now, Logger and
// Authorizer is required.
type Config struct {
	// Cache is the credential path's view of associations and clusters.
	Cache *assoccache.Cache
	// Verifier checks service-account tokens.
	Verifier *satoken.Verifier
	// Assumer makes the role assumptions.
	Assumer Assumer
	// IssuerURL gives a cluster's token issuer URL (server.IssuerURL).
	IssuerURL func(store.Cluster) string
	// AssociationARN and ClusterARN make ARNs (server.AssociationARN,
	// server.ClusterARN).
	AssociationARN func(cluster, id string) string
	ClusterARN     func(name string) string
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Logger gets one line per credential request (never tokens or
	// secrets). Default slog.Default().
	Logger *slog.Logger
	// Authorizer, when set, must allow eks-auth:AssumeRoleForPodIdentity
	// on the cluster's ARN for the caller (the node agent's identity, not
	// a vended session). nil: every caller may.
	Authorizer authz.Authorizer
}

// Handler serves EKS Auth and OIDC discovery.
type Handler struct {
	cfg Config
	log *slog.Logger
	now func() time.Time
}

// New returns a Handler for cfg.
func New(cfg Config) *Handler {
	h := &Handler{cfg: cfg, log: cfg.Logger, now: cfg.Now}
	if h.log == nil {
		h.log = slog.Default()
	}
	if h.now == nil {
		h.now = time.Now
	}
	return h
}

// Routes returns the handler's routes as http.ServeMux patterns, for
// server.Config.Routes.
func (h *Handler) Routes() map[string]http.Handler {
	routes := map[string]http.Handler{
		"POST /clusters/{clusterName}/assume-role-for-pod-identity": http.HandlerFunc(h.serveAssumeRole),
	}
	d := &satoken.Discovery{Cluster: h.cfg.Cache.Cluster, IssuerURL: h.cfg.IssuerURL, Logger: h.log}
	for p, hd := range d.Routes() {
		routes[p] = hd
	}
	return routes
}

// Limits and fixed values of EKS Auth (spec §6, §7).
const (
	maxBody           = 64 << 10
	firstDuration     = 21600 // 6 h
	chainedDuration   = 3600  // role chaining's limit
	maxSessionName    = 64
	maxSourceValueLen = 256
)

// clusterNameShape reports whether name matches [0-9A-Za-z][A-Za-z0-9\-_]*.
func clusterNameShape(name string) bool {
	for i := 0; i < len(name); i++ {
		c := name[i]
		alnum := c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		if !alnum && (i == 0 || c != '-' && c != '_') {
			return false
		}
	}
	return name != ""
}

func (h *Handler) serveAssumeRole(w http.ResponseWriter, r *http.Request) {
	start := h.now()
	out, info, err := h.assumeRoleForPodIdentity(r)
	attrs := []slog.Attr{
		slog.String("op", "AssumeRoleForPodIdentity"), slog.String("cluster", clip(r.PathValue("clusterName"))),
		slog.String("namespace", info.namespace), slog.String("serviceAccount", info.serviceAccount),
		slog.String("pod", info.pod), slog.String("associationId", info.associationID),
		slog.String("eksNodeName", clip(info.in.EksNodeName)), slog.String("instanceId", clip(info.in.InstanceId)),
		slog.String("zone", clip(info.in.Zone)), slog.Duration("took", h.now().Sub(start)),
	}
	if err != nil {
		e := toAPIError(err)
		level := slog.LevelInfo
		if e.Status >= 500 {
			level = slog.LevelError
			attrs = append(attrs, slog.String("err", err.Error()))
		}
		h.log.LogAttrs(r.Context(), level, "eksauth: refused", append(attrs, slog.String("code", e.Code))...)
		writeError(w, e)
		return
	}
	h.log.LogAttrs(r.Context(), slog.LevelInfo, "eksauth: credentials vended",
		append(attrs, slog.String("role", out.AssumedRoleUser.Arn))...)
	writeJSON(w, http.StatusOK, out)
}

// clip bounds a caller-supplied value in a log line (the request may be
// refused for its length).
func clip(s string) string {
	if len(s) > maxSourceValueLen {
		return s[:maxSourceValueLen] + "..."
	}
	return s
}

// requestInfo is what the log line says about a request.
type requestInfo struct {
	in                                            eksapi.AssumeRoleForPodIdentityInput
	namespace, serviceAccount, pod, associationID string
}

func (h *Handler) assumeRoleForPodIdentity(r *http.Request) (*eksapi.AssumeRoleForPodIdentityOutput, requestInfo, error) {
	var info requestInfo
	ctx := r.Context()
	clusterName := r.PathValue("clusterName")
	if err := decodeBody(r, &info.in); err != nil {
		return nil, info, err
	}
	in := info.in
	if err := validateInput(clusterName, &in); err != nil {
		return nil, info, err
	}
	if err := authz.Check(ctx, h.cfg.Authorizer, "eks-auth:AssumeRoleForPodIdentity", h.cfg.ClusterARN(clusterName), nil); err != nil {
		return nil, info, err
	}
	cluster, err := h.cfg.Cache.Cluster(ctx, clusterName)
	if errors.Is(err, store.ErrNotFound) {
		return nil, info, eksapi.NewError(eksapi.CodeResourceNotFound, "No cluster found for name: "+clusterName+".")
	}
	if err != nil {
		return nil, info, fmt.Errorf("reading cluster %s: %w", clusterName, err)
	}
	claims, err := h.cfg.Verifier.Verify(ctx, cluster, h.cfg.IssuerURL(cluster), in.Token)
	if err != nil {
		return nil, info, err
	}
	info.namespace, info.serviceAccount, info.pod = claims.Namespace, claims.ServiceAccount, claims.PodName
	a, ok := h.cfg.Cache.Lookup(clusterName, claims.Namespace, claims.ServiceAccount)
	if !ok {
		return nil, info, eksapi.NewError(eksapi.CodeResourceNotFound, fmt.Sprintf(
			"No Pod Identity Association found for cluster %s, namespace %s and service account %s.",
			clusterName, claims.Namespace, claims.ServiceAccount))
	}
	info.associationID = a.ID

	final, err := h.assume(ctx, clusterName, claims, a, sourceContext(in))
	if err != nil {
		return nil, info, err
	}
	return &eksapi.AssumeRoleForPodIdentityOutput{
		Subject:  &eksapi.Subject{Namespace: claims.Namespace, ServiceAccount: claims.ServiceAccount},
		Audience: satoken.Audience,
		PodIdentityAssociation: &eksapi.PodIdentityAssociationRef{
			AssociationArn: h.cfg.AssociationARN(clusterName, a.ID),
			AssociationId:  a.ID,
		},
		AssumedRoleUser: &eksapi.AssumedRoleUser{Arn: final.AssumedRoleARN, AssumeRoleId: final.AssumedRoleID},
		Credentials: &eksapi.Credentials{
			AccessKeyId:     final.Credentials.AccessKeyID,
			SecretAccessKey: final.Credentials.SecretAccessKey,
			SessionToken:    final.Credentials.SessionToken,
			Expiration:      eksapi.Time{Time: final.Credentials.Expiration.UTC().Truncate(time.Second)},
		},
	}, info, nil
}

// assume makes the association's role assumptions (spec §6.4 steps 3-4)
// and returns the final one.
func (h *Handler) assume(ctx context.Context, cluster string, c *satoken.Claims, a assoccache.Association, src map[string]string) (sts.AssumeRoleOutput, error) {
	session := SessionName(cluster, c.PodName, uuid.NewString())
	first := sts.AssumeRoleInput{
		RoleARN:         a.RoleARN,
		RoleSessionName: session,
		DurationSeconds: firstDuration,
		SourceContext:   src,
	}
	if !a.DisableSessionTags {
		first.Tags = []sts.Tag{
			{Key: "eks-cluster-arn", Value: h.cfg.ClusterARN(cluster)},
			{Key: "eks-cluster-name", Value: cluster},
			{Key: "kubernetes-namespace", Value: c.Namespace},
			{Key: "kubernetes-service-account", Value: c.ServiceAccount},
			{Key: "kubernetes-pod-name", Value: c.PodName},
			{Key: "kubernetes-pod-uid", Value: c.PodUID},
		}
		first.TransitiveTagKeys = make([]string, len(first.Tags))
		for i, t := range first.Tags {
			first.TransitiveTagKeys[i] = t.Key
		}
	}
	if a.TargetRoleARN == "" {
		first.Policy = a.Policy
	}
	out, err := h.cfg.Assumer.AssumeRole(ctx, first)
	if durationRefused(err) {
		// An upstream STS may cap the session (the role's
		// MaxSessionDuration, or 1 h when podid's own credentials are a
		// role session): take what it allows rather than nothing.
		first.DurationSeconds = chainedDuration
		out, err = h.cfg.Assumer.AssumeRole(ctx, first)
	}
	if err != nil {
		return out, fmt.Errorf("assuming role %s: %w", a.RoleARN, err)
	}
	if a.TargetRoleARN == "" {
		return out, nil
	}
	creds := out.Credentials
	out, err = h.cfg.Assumer.AssumeRole(ctx, sts.AssumeRoleInput{
		RoleARN:         a.TargetRoleARN,
		RoleSessionName: session,
		DurationSeconds: chainedDuration,
		ExternalID:      a.ExternalID,
		Policy:          a.Policy,
		Caller:          &creds,
		SourceContext:   src,
	})
	if err != nil {
		return out, fmt.Errorf("assuming target role %s: %w", a.TargetRoleARN, err)
	}
	return out, nil
}

// durationRefused reports whether STS refused a role assumption only for
// its DurationSeconds.
func durationRefused(err error) bool {
	var se *sts.Error
	return errors.As(err, &se) && se.Code == sts.CodeValidation && strings.Contains(se.Message, "DurationSeconds")
}

// SessionName is the role session name EKS Auth uses (spec §7.3):
// "eks-" + the cluster name's first 10 characters + "-" + pod + "-" + id,
// the pod name truncated so that the whole fits STS's 64 characters.
func SessionName(cluster, pod, id string) string {
	cluster = cluster[:min(len(cluster), 10)]
	room := maxSessionName - len("eks-") - len(cluster) - 2 - len(id)
	pod = pod[:max(0, min(len(pod), room))]
	return "eks-" + cluster + "-" + pod + "-" + id
}

// sourceContext is what the agent said about the node, recorded in the
// session.
func sourceContext(in eksapi.AssumeRoleForPodIdentityInput) map[string]string {
	if in.EksNodeName == "" && in.InstanceId == "" && in.Zone == "" {
		return nil
	}
	m := map[string]string{}
	for k, v := range map[string]string{"eksNodeName": in.EksNodeName, "instanceId": in.InstanceId, "zone": in.Zone} {
		if v != "" {
			m[k] = v
		}
	}
	return m
}

// validationError is a one-member InvalidParameterException worded as AWS's
// request validation words it.
func validationError(value, member, constraint string) *eksapi.Error {
	return eksapi.NewError(eksapi.CodeInvalidParameter, fmt.Sprintf(
		"1 validation error detected: Value %s at '%s' failed to satisfy constraint: %s", value, member, constraint))
}

func validateInput(cluster string, in *eksapi.AssumeRoleForPodIdentityInput) error {
	switch {
	case len(cluster) < 1 || len(cluster) > 100:
		return validationError(quote(cluster), "clusterName", "Member must have length between 1 and 100")
	case !clusterNameShape(cluster):
		return validationError(quote(cluster), "clusterName", `Member must satisfy regular expression pattern: [0-9A-Za-z][A-Za-z0-9\-_]*`)
	case in.Token == "":
		return validationError("null", "token", "Member must not be null")
	case !satoken.WellFormed(in.Token):
		// The token is sensitive: never echoed.
		return validationError("'***'", "token", `Member must satisfy regular expression pattern: [A-Za-z0-9-_=]+\.[A-Za-z0-9-_=]+\.[A-Za-z0-9-_=]+`)
	}
	for member, v := range map[string]string{"eksNodeName": in.EksNodeName, "instanceId": in.InstanceId, "zone": in.Zone} {
		if len(v) > maxSourceValueLen {
			return validationError("'"+v[:16]+"...'", member, fmt.Sprintf("Member must have length less than or equal to %d", maxSourceValueLen))
		}
	}
	return nil
}

func quote(s string) string {
	if len(s) > 120 {
		s = s[:120] + "..."
	}
	return "'" + s + "'"
}

// toAPIError maps any error of the credential path to its EKS Auth shape.
func toAPIError(err error) *eksapi.Error {
	var ae *eksapi.Error
	var te *satoken.Error
	var se *sts.Error
	var denied *authz.DeniedError
	switch {
	case errors.As(err, &denied):
		// EKS Auth's AccessDeniedException is a 400 (spec §6.2), worded
		// as IAM words a refusal.
		return &eksapi.Error{Code: eksapi.CodeAccessDenied, Status: http.StatusBadRequest, Message: denied.Error()}
	case errors.As(err, &ae):
		return ae
	case errors.As(err, &te) && errors.Is(err, satoken.ErrExpired):
		return eksapi.NewError(eksapi.CodeExpiredToken, te.Message)
	case errors.As(err, &te):
		return eksapi.NewError(eksapi.CodeInvalidToken, te.Message)
	case errors.Is(err, satoken.ErrKeysUnavailable):
		return eksapi.NewError(eksapi.CodeServiceUnavailable, "The cluster's service account issuer keys are unavailable. Retry later.")
	case errors.As(err, &se):
		return stsError(se)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return eksapi.NewError(eksapi.CodeServiceUnavailable, "The request was cancelled or timed out.")
	}
	return eksapi.NewError(eksapi.CodeInternalServer, "An internal error occurred.")
}

// msgSTSUnavailable answers a role assumption STS could not make.
const msgSTSUnavailable = "EKS Auth could not assume the role: the credentials service is unavailable. Try again later."

// stsError maps a refused role assumption.
func stsError(se *sts.Error) *eksapi.Error {
	switch {
	case se.Code == sts.CodeAccessDenied || se.Code == "RegionDisabledException":
		// EKS Auth's AccessDeniedException is a 400 (spec §6.2).
		return &eksapi.Error{Code: eksapi.CodeAccessDenied, Status: http.StatusBadRequest,
			Message: "Unauthorized Exception! EKS does not have permissions to assume the associated role."}
	case se.Code == "Throttling" || se.Status == http.StatusTooManyRequests:
		return eksapi.NewError(eksapi.CodeThrottling, "Rate exceeded")
	case se.Status >= 500:
		// The cause (podid's credential chain, the network, STS's own
		// words) is logged by serveAssumeRole, never sent to the pod.
		return eksapi.NewError(eksapi.CodeServiceUnavailable, msgSTSUnavailable)
	case se.Code == sts.CodeInvalidClientTokenID || se.Code == sts.CodeExpiredToken:
		// The first session cannot have gone bad in between: ours.
		return eksapi.NewError(eksapi.CodeInternalServer, "An internal error occurred.")
	}
	// ValidationError, MalformedPolicyDocument, PackedPolicyTooLarge, ...:
	// the association asks for what STS will not do.
	return eksapi.NewError(eksapi.CodeInvalidRequest, se.Code+": "+se.Message)
}

// decodeBody reads a JSON body of at most maxBody bytes into v.
func decodeBody(r *http.Request, v any) error {
	b, err := readBody(r)
	if err != nil {
		return err
	}
	if len(b) == 0 {
		b = []byte("{}")
	}
	if err := json.Unmarshal(b, v); err != nil {
		return eksapi.NewError(eksapi.CodeSerialization, "The request body is not valid JSON for this operation.")
	}
	return nil
}

// readBody reads at most maxBody bytes, in one allocation when the
// request says its length.
func readBody(r *http.Request) ([]byte, error) {
	tooLarge := eksapi.NewError(eksapi.CodeRequestEntityTooLarge, fmt.Sprintf("Request body is larger than %d bytes.", maxBody))
	unreadable := eksapi.NewError(eksapi.CodeInvalidRequest, "The request body could not be read.")
	if n := r.ContentLength; n >= 0 {
		if n > maxBody {
			return nil, tooLarge
		}
		b := make([]byte, n)
		if _, err := io.ReadFull(r.Body, b); err != nil {
			return nil, unreadable
		}
		return b, nil
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	switch {
	case err != nil:
		return nil, unreadable
	case len(b) > maxBody:
		return nil, tooLarge
	}
	return b, nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeError(w, eksapi.NewError(eksapi.CodeInternalServer, "An internal error occurred."))
		return
	}
	setRequestID(w)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(b)
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
