// Package eksauth is podid's EKS Auth service: AssumeRoleForPodIdentity,
// which turns a pod's service-account token into AWS credentials for its
// association's role (or, with a target role, for the target role after
// two role assumptions in sequence), speaking EKS Auth's restJson1 wire
// protocol exactly (spec §6, §7).
//
// Its Mount also carries the OIDC discovery of podid-issued clusters:
//
//	POST /clusters/{clusterName}/assume-role-for-pod-identity   EKS Auth
//	GET  /clusters-oidc/{name}/.well-known/openid-configuration OIDC discovery
//	GET  /clusters-oidc/{name}/keys                             public JWKS
//	GET  /clusters-oidc/{region}/{name}/...                     the same, another region's cluster
//
// Both read associations and clusters from an assoccache.Cache and never
// the store. EKS Auth is regional: a request's cluster is the one in its
// signing scope's region, as on AWS, where a token of a cluster in
// eu-west-1 is exchanged at eks-auth.eu-west-1.
package eksauth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/podid/podid/eksapi"
	"github.com/podid/podid/internal/assoccache"
	"github.com/podid/podid/internal/audit"
	"github.com/podid/podid/internal/authz"
	"github.com/podid/podid/internal/httpx"
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
	AssociationARN func(region, cluster, id string) string
	ClusterARN     func(region, name string) string
	// Region is the region of requests whose signing scope names none
	// and of discovery paths that name none (the server's --region).
	// Default "us-east-1" (server.DefaultRegion).
	Region string
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
	if h.cfg.Region == "" {
		h.cfg.Region = defaultRegion
	}
	if h.log == nil {
		h.log = slog.Default()
	}
	if h.now == nil {
		h.now = time.Now
	}
	return h
}

// Mount mounts EKS Auth (family httpx.EKSAuth) and OIDC discovery
// (httpx.OIDC) on host.
func (h *Handler) Mount(host *httpx.Host) error {
	errs := []error{
		host.Handle("POST /clusters/{clusterName}/assume-role-for-pod-identity", httpx.EKSAuth, "AssumeRoleForPodIdentity", h.serveAssumeRole),
	}
	d := &satoken.Discovery{Cluster: h.cfg.Cache.Cluster, IssuerURL: h.cfg.IssuerURL, Region: h.cfg.Region}
	for p, hd := range d.Routes() {
		errs = append(errs, host.Handle(p, httpx.OIDC, "", hd))
	}
	return errors.Join(errs...)
}

// Limits and fixed values of EKS Auth (spec §6, §7).
const (
	defaultRegion     = "us-east-1" // server.DefaultRegion
	firstDuration     = 21600       // 6 h
	chainedDuration   = 3600        // role chaining's limit
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

func (h *Handler) serveAssumeRole(w http.ResponseWriter, r *http.Request) error {
	start := h.now()
	out, info, err := h.assumeRoleForPodIdentity(r)
	attrs := make([]slog.Attr, 0, 13)
	attrs = append(attrs,
		slog.String("op", "AssumeRoleForPodIdentity"), slog.String("cluster", clip(r.PathValue("clusterName"))),
		slog.String("namespace", info.namespace), slog.String("serviceAccount", info.serviceAccount),
		slog.String("pod", info.pod), slog.String("associationId", info.associationID),
		slog.String("eksNodeName", clip(info.in.EksNodeName)), slog.String("instanceId", clip(info.in.InstanceId)),
		slog.String("zone", clip(info.in.Zone)), slog.Duration("took", h.now().Sub(start)),
	)
	h.noteAudit(r, out, info, err)
	if err != nil {
		// The host's log line has the error's code; it logs the cause of
		// a 5xx answer.
		var denied *authz.DeniedError
		if errors.As(err, &denied) && denied.Reason != "" {
			// Which statement or which missing action decided it.
			attrs = append(attrs, slog.String("action", denied.Action), slog.String("resource", denied.Resource),
				slog.String("reason", denied.Reason))
		}
		httpx.LogAttrs(r.Context(), h.log, slog.LevelInfo, "eksauth: refused", attrs...)
		return err
	}
	// STS logs these sessions at debug level only (CallerLogs): this line
	// says what its line would.
	httpx.LogAttrs(r.Context(), h.log, slog.LevelInfo, "eksauth: credentials vended",
		append(attrs, slog.String("role", out.AssumedRoleUser.Arn), slog.String("accessKeyId", out.Credentials.AccessKeyId),
			slog.Time("expiration", out.Credentials.Expiration.Time))...)
	return httpx.WriteJSON(w, out)
}

// Outcomes and refusal reasons of a credential request in its audit
// event (additionalEventData).
const (
	OutcomeSuccess = "Success"
	OutcomeRefused = "Refused"

	ReasonInvalidRequest = "InvalidRequest"
	ReasonNotAuthorized  = "NotAuthorized"
	ReasonNoCluster      = "NoCluster"
	ReasonInvalidToken   = "InvalidToken"
	ReasonExpiredToken   = "ExpiredToken"
	ReasonNoAssociation  = "NoAssociation"
	ReasonRoleRefused    = "RoleAssumptionRefused"
	ReasonInternal       = "InternalError"
)

// noteAudit tells the audit trail what the request was about and, for a
// refusal, why: the pod (from the verified token only), the association,
// the role and target role, the session name, the outcome. Never the
// token or the credentials' secrets.
func (h *Handler) noteAudit(r *http.Request, out *eksapi.AssumeRoleForPodIdentityOutput, info requestInfo, err error) {
	d := audit.Note(r.Context())
	cluster := clip(r.PathValue("clusterName"))
	params := map[string]any{"clusterName": cluster}
	for _, kv := range [...]member{
		{"namespace", info.namespace}, {"serviceAccount", info.serviceAccount}, {"podName", info.pod}, {"podUid", info.podUID},
		{"eksNodeName", clip(info.in.EksNodeName)}, {"instanceId", clip(info.in.InstanceId)}, {"zone", clip(info.in.Zone)},
	} {
		if kv.value != "" {
			params[kv.name] = kv.value
		}
	}
	d.RequestParameters = params
	extra := map[string]any{"outcome": OutcomeSuccess}
	for _, kv := range [...]member{
		{"associationId", info.associationID}, {"roleArn", info.roleARN}, {"targetRoleArn", info.targetRoleARN}, {"sessionName", info.sessionName},
	} {
		if kv.value != "" {
			extra[kv.name] = kv.value
		}
	}
	if info.associationID != "" {
		arn := ""
		if out != nil {
			arn = out.PodIdentityAssociation.AssociationArn
		} else {
			arn = h.cfg.AssociationARN(authz.Region(r.Context(), h.cfg.Region), cluster, info.associationID)
		}
		d.Resources = append(d.Resources, audit.Resource{Type: audit.TypeAssociation, ARN: arn})
	}
	for _, role := range []string{info.roleARN, info.targetRoleARN} {
		if role != "" {
			d.Resources = append(d.Resources, audit.Resource{Type: audit.TypeRole, ARN: role})
		}
	}
	if err != nil {
		extra["outcome"] = OutcomeRefused
		reason, detail := refusal(err)
		extra["reason"] = reason
		if detail != "" {
			extra["reasonDetail"] = detail
		}
		var de *authz.DeniedError
		if errors.As(err, &de) && de.Reason != "" {
			// What IAM decided it by: the statement, or the action no
			// statement allowed (never sent to the caller).
			extra["decidedBy"] = de.Reason
			extra["deniedAction"] = de.Action
			if de.Decision != nil && de.Decision.Policy != "" {
				extra["policy"], extra["statement"], extra["sid"] = de.Decision.Policy, de.Decision.Statement, de.Decision.Sid
			}
		}
		d.AdditionalEventData = extra
		return
	}
	d.AdditionalEventData = extra
	d.ResponseElements = map[string]any{
		"subject":                map[string]any{"namespace": out.Subject.Namespace, "serviceAccount": out.Subject.ServiceAccount},
		"audience":               out.Audience,
		"podIdentityAssociation": map[string]any{"associationArn": out.PodIdentityAssociation.AssociationArn, "associationId": out.PodIdentityAssociation.AssociationId},
		"assumedRoleUser":        map[string]any{"arn": out.AssumedRoleUser.Arn, "assumeRoleId": out.AssumedRoleUser.AssumeRoleId},
		// The access key ID names the session (CloudTrail records it too);
		// the secret key and session token are never recorded.
		"accessKeyId": out.Credentials.AccessKeyId,
		"expiration":  out.Credentials.Expiration.Time.Format(time.RFC3339),
	}
}

// refusal classifies why a credential request was refused, with the
// detail worth recording (never the token).
func refusal(err error) (reason, detail string) {
	var (
		te *satoken.Error
		de *authz.DeniedError
		se *sts.Error
		ae *eksapi.Error
		re *httpx.ResourceError
	)
	switch {
	case errors.As(err, &te):
		if errors.Is(te.Kind, satoken.ErrExpired) {
			return ReasonExpiredToken, te.Message
		}
		return ReasonInvalidToken, te.Message
	case errors.As(err, &de) && strings.HasPrefix(de.Action, "sts:"):
		// IAM refused a role assumption (a trust policy, a missing role).
		return ReasonRoleRefused, de.Error()
	case errors.As(err, &de):
		return ReasonNotAuthorized, de.Error()
	case errors.As(err, &se):
		return ReasonRoleRefused, se.Code + ": " + se.Message
	case errors.As(err, &re) && re.Kind == httpx.KindCluster, errors.Is(err, store.ErrNotFound):
		return ReasonNoCluster, ""
	case errors.As(err, &ae) && ae.Code == eksapi.CodeResourceNotFound:
		return ReasonNoAssociation, ae.Message
	case errors.As(err, &ae), errors.As(err, new(*httpx.DecodeError)), errors.As(err, new(*http.MaxBytesError)):
		return ReasonInvalidRequest, ""
	}
	return ReasonInternal, ""
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
	in                                                    eksapi.AssumeRoleForPodIdentityInput
	namespace, serviceAccount, pod, podUID, associationID string
	roleARN, targetRoleARN, sessionName                   string
}

func (h *Handler) assumeRoleForPodIdentity(r *http.Request) (*eksapi.AssumeRoleForPodIdentityOutput, requestInfo, error) {
	var info requestInfo
	ctx := r.Context()
	clusterName := r.PathValue("clusterName")
	if err := httpx.DecodeJSON(r, &info.in); err != nil {
		return nil, info, err
	}
	in := info.in
	if err := validateInput(clusterName, &in); err != nil {
		return nil, info, err
	}
	region := authz.Region(ctx, h.cfg.Region)
	clusterARN := h.cfg.ClusterARN(region, clusterName)
	if err := authz.Check(ctx, h.cfg.Authorizer, "eks-auth:AssumeRoleForPodIdentity", clusterARN, nil); err != nil {
		return nil, info, err
	}
	cluster, err := h.cfg.Cache.Cluster(ctx, region, clusterName)
	if err != nil {
		return nil, info, fmt.Errorf("reading cluster %s in %s: %w", clusterName, region, err)
	}
	claims, err := h.cfg.Verifier.Verify(ctx, cluster, h.cfg.IssuerURL(cluster), in.Token)
	if err != nil {
		return nil, info, err
	}
	info.namespace, info.serviceAccount, info.pod, info.podUID = claims.Namespace, claims.ServiceAccount, claims.PodName, claims.PodUID
	a, ok, err := h.cfg.Cache.Find(ctx, region, clusterName, claims.Namespace, claims.ServiceAccount)
	if err != nil {
		return nil, info, err
	}
	if !ok {
		return nil, info, eksapi.NewError(eksapi.CodeResourceNotFound, fmt.Sprintf(
			"No Pod Identity Association found for cluster %s, namespace %s and service account %s.",
			clusterName, claims.Namespace, claims.ServiceAccount))
	}
	info.associationID, info.roleARN, info.targetRoleARN = a.ID, a.RoleARN, a.TargetRoleARN
	info.sessionName = SessionName(clusterName, claims.PodName, uuid.NewString())

	final, err := h.assume(ctx, clusterARN, clusterName, info.sessionName, claims, a, sourceContext(in))
	if err != nil {
		return nil, info, err
	}
	return &eksapi.AssumeRoleForPodIdentityOutput{
		Subject:  &eksapi.Subject{Namespace: claims.Namespace, ServiceAccount: claims.ServiceAccount},
		Audience: satoken.Audience,
		PodIdentityAssociation: &eksapi.PodIdentityAssociationRef{
			AssociationArn: h.cfg.AssociationARN(region, clusterName, a.ID),
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
func (h *Handler) assume(ctx context.Context, clusterARN, cluster, session string, c *satoken.Claims, a assoccache.Association, src map[string]string) (sts.AssumeRoleOutput, error) {
	// Both are EKS's own calls to STS, over TLS on AWS [INF]: the trust
	// policies see aws:SecureTransport true whatever the agent's request
	// came over.
	ctx = authz.WithSecureTransport(ctx)
	first := sts.AssumeRoleInput{
		RoleARN:         a.RoleARN,
		RoleSessionName: session,
		DurationSeconds: firstDuration,
		SourceContext:   src,
		SourceARN:       clusterARN,
		CallerLogs:      true, // serveAssumeRole's line
	}
	if !a.DisableSessionTags {
		first.Tags = SessionTags(clusterARN, cluster, c.Namespace, c.ServiceAccount, c.PodName, c.PodUID)
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
		CallerLogs:      true,
	})
	if err != nil {
		return out, fmt.Errorf("assuming target role %s: %w", a.TargetRoleARN, err)
	}
	return out, nil
}

// SessionTags are the six session tags of a pod's first role assumption
// (spec §7.3), all transitive.
func SessionTags(clusterARN, cluster, namespace, serviceAccount, pod, podUID string) []sts.Tag {
	return []sts.Tag{
		{Key: "eks-cluster-arn", Value: clusterARN},
		{Key: "eks-cluster-name", Value: cluster},
		{Key: "kubernetes-namespace", Value: namespace},
		{Key: "kubernetes-service-account", Value: serviceAccount},
		{Key: "kubernetes-pod-name", Value: pod},
		{Key: "kubernetes-pod-uid", Value: podUID},
	}
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
	m := make(map[string]string, 3)
	for _, kv := range sourceMembers(in) {
		if kv.value != "" {
			m[kv.name] = kv.value
		}
	}
	return m
}

// member is a named value of a request, in a fixed order (ranging over a
// map literal would build the map on every request).
type member struct{ name, value string }

// sourceMembers are what the agent says about the node.
func sourceMembers(in eksapi.AssumeRoleForPodIdentityInput) [3]member {
	return [3]member{{"eksNodeName", in.EksNodeName}, {"instanceId", in.InstanceId}, {"zone", in.Zone}}
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
	for _, kv := range sourceMembers(*in) {
		if len(kv.value) > maxSourceValueLen {
			return validationError("'"+kv.value[:16]+"...'", kv.name, fmt.Sprintf("Member must have length less than or equal to %d", maxSourceValueLen))
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
