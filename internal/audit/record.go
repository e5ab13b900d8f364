package audit

import (
	"context"
	"encoding/json"
	"maps"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/podid/podid/internal/authz"
	"github.com/podid/podid/internal/httpx"
	"github.com/podid/podid/internal/store"
)

// Record is one event in CloudTrail's record format (the CloudTrailEvent
// string LookupEvents returns).
type Record struct {
	EventVersion        string         `json:"eventVersion"`
	UserIdentity        UserIdentity   `json:"userIdentity"`
	EventTime           string         `json:"eventTime"`
	EventSource         string         `json:"eventSource"`
	EventName           string         `json:"eventName"`
	AWSRegion           string         `json:"awsRegion"`
	SourceIPAddress     string         `json:"sourceIPAddress"`
	UserAgent           string         `json:"userAgent"`
	ErrorCode           string         `json:"errorCode,omitempty"`
	ErrorMessage        string         `json:"errorMessage,omitempty"`
	RequestParameters   map[string]any `json:"requestParameters"`
	ResponseElements    map[string]any `json:"responseElements"`
	AdditionalEventData map[string]any `json:"additionalEventData,omitempty"`
	RequestID           string         `json:"requestID"`
	EventID             string         `json:"eventID"`
	ReadOnly            bool           `json:"readOnly"`
	Resources           []Resource     `json:"resources,omitempty"`
	EventType           string         `json:"eventType"`
	ManagementEvent     bool           `json:"managementEvent"`
	RecipientAccountID  string         `json:"recipientAccountId"`
	EventCategory       string         `json:"eventCategory"`

	// requestJSON, when not nil, is written as requestParameters (scrubbed
	// already) in place of RequestParameters: build reads a request's
	// parameters into it without a map (appendJSON).
	requestJSON []byte
}

// UserIdentity is CloudTrail's userIdentity: who made the request.
type UserIdentity struct {
	Type        string `json:"type"` // Root, IAMUser, AssumedRole, Unknown
	PrincipalID string `json:"principalId,omitempty"`
	ARN         string `json:"arn,omitempty"`
	AccountID   string `json:"accountId,omitempty"`
	AccessKeyID string `json:"accessKeyId,omitempty"`
	UserName    string `json:"userName,omitempty"`
	// SessionContext names the role of an AssumedRole identity.
	SessionContext *SessionContext `json:"sessionContext,omitempty"`
}

// SessionContext is an assumed role's issuer.
type SessionContext struct {
	SessionIssuer struct {
		Type     string `json:"type"`
		ARN      string `json:"arn"`
		UserName string `json:"userName"`
	} `json:"sessionIssuer"`
}

// Resource is a resource an event names.
type Resource struct {
	AccountID string `json:"accountId,omitempty"`
	Type      string `json:"type"`
	ARN       string `json:"ARN"`
}

// Resource types.
const (
	TypeCluster      = "AWS::EKS::Cluster"
	TypeAssociation  = "AWS::EKS::PodIdentityAssociation"
	TypeRole         = "AWS::IAM::Role"
	TypeUser         = "AWS::IAM::User"
	TypePolicy       = "AWS::IAM::Policy"
	TypeAccessKey    = "AWS::IAM::AccessKey"
	TypeOIDCProvider = "AWS::IAM::OIDCProvider"
)

// Event sources, by handler family.
var sources = map[string]string{
	httpx.NameEKS:     "eks.amazonaws.com",
	httpx.NameEKSAuth: "eks-auth.amazonaws.com",
	httpx.NameSTS:     "sts.amazonaws.com",
	"iam":             "iam.amazonaws.com",
	httpx.NameAdmin:   "podid.amazonaws.com",
}

// Hidden replaces a secret value, as CloudTrail writes it.
const Hidden = "HIDDEN_DUE_TO_SECURITY_REASONS"

// secretKey reports whether a request or response member named k holds a
// secret: tokens (but a client request token or a page token), secret
// keys, passwords, signatures, SAML assertions, MFA codes.
func secretKey(k string) bool {
	var buf [64]byte
	if len(k) > len(buf) || !lowerASCII(buf[:len(k)], k) {
		return secretLower(strings.ToLower(k))
	}
	return secretLower(string(buf[:len(k)])) // the compiler copies nothing
}

// lowerASCII writes k in lower case to dst (as long as k) if k is ASCII.
func lowerASCII(dst []byte, k string) bool {
	for i := 0; i < len(k); i++ {
		c := k[i]
		if c >= utf8.RuneSelf {
			return false
		}
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		dst[i] = c
	}
	return true
}

// secretLower is secretKey of a lower-case name: whether it holds one of
// the words token (tokencode with it), secret, password, signature,
// assertion, privatekey, credentials, authorization, in one pass.
func secretLower(l string) bool {
	switch l {
	case "clientrequesttoken", "nexttoken", "marker":
		return false
	}
	for i := 0; i < len(l); i++ {
		var words []string
		switch l[i] {
		case 't':
			words = wordsT
		case 's':
			words = wordsS
		case 'p':
			words = wordsP
		case 'a':
			words = wordsA
		case 'c':
			words = wordsC
		default:
			continue
		}
		for _, w := range words {
			if strings.HasPrefix(l[i:], w) {
				return true
			}
		}
	}
	return false
}

var (
	wordsT = []string{"token"}
	wordsS = []string{"secret", "signature"}
	wordsP = []string{"password", "privatekey"}
	wordsA = []string{"assertion", "authorization"}
	wordsC = []string{"credentials"}
)

// Scrub returns v with the value of every member secretKey names
// replaced by Hidden, at any depth.
func Scrub(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			if secretKey(k) {
				out[k] = Hidden
			} else {
				out[k] = Scrub(e)
			}
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = Scrub(e)
		}
		return out
	default:
		return v
	}
}

// Detail is what a handler adds to its request's event: the members
// CloudTrail records that only the handler knows.
type Detail struct {
	// RequestParameters replaces the parameters read from the request.
	RequestParameters map[string]any
	// ResponseElements are the response's members worth recording
	// (never a secret: Scrub runs on them too).
	ResponseElements map[string]any
	// AdditionalEventData: for a credential request, the outcome and the
	// reason of a refusal.
	AdditionalEventData map[string]any
	// Resources are added to those read from the request.
	Resources []Resource
}

type detailKey struct{}

// Note returns the Detail of the request ctx belongs to, for its handler
// to fill; outside an audited request, a Detail nobody reads.
func Note(ctx context.Context) *Detail {
	if d, ok := ctx.Value(detailKey{}).(*Detail); ok {
		return d
	}
	return &Detail{}
}

// recorded reports whether a completed request makes an event, and
// whether that event is read-only: every request of EKS Auth, STS and
// the admin API, the writes of the EKS API and IAM. Requests no
// operation took (the host's 404 and 405) and the other families (OIDC, metrics, the console, CloudTrail) make
// none.
func recorded(r *http.Request, c httpx.Completed, op string) (rec, readOnly bool) {
	if !c.Routed || c.Family == nil || op == "" {
		// Unrouted (the host's 404 and 405 answers) or no operation named.
		return false, false
	}
	readOnly = r.Method == http.MethodGet || r.Method == http.MethodHead ||
		strings.HasPrefix(op, "Get") || strings.HasPrefix(op, "List") || strings.HasPrefix(op, "Describe")
	switch c.Family.Name {
	case httpx.NameEKSAuth, httpx.NameSTS, httpx.NameAdmin:
		return true, readOnly
	case httpx.NameEKS, "iam":
		return !readOnly, false
	}
	return false, false
}

// build makes the event of a completed request.
func (rc *Recorder) build(r *http.Request, c httpx.Completed, d *Detail) (store.Event, bool) {
	form := formOf(r, c)
	op := c.Op
	if op == "" && form != nil {
		op = form.Get("Action")
	}
	ok, readOnly := recorded(r, c, op)
	if !ok {
		return store.Event{}, false
	}
	region := authz.Region(r.Context(), rc.cfg.Region)
	rec := Record{
		EventVersion:        "1.08",
		UserIdentity:        identityOf(r),
		EventTime:           c.Start.UTC().Format(time.RFC3339),
		EventSource:         sources[c.Family.Name],
		EventName:           op,
		AWSRegion:           region,
		SourceIPAddress:     sourceIP(r.RemoteAddr),
		UserAgent:           clip(r.UserAgent(), 256),
		ErrorCode:           c.ErrorCode,
		ErrorMessage:        c.ErrorMessage,
		RequestParameters:   d.RequestParameters,
		ResponseElements:    d.ResponseElements,
		AdditionalEventData: d.AdditionalEventData,
		RequestID:           c.RequestID,
		EventID:             c.RequestID, // one event per request
		ReadOnly:            readOnly,
		EventType:           "AwsApiCall",
		ManagementEvent:     true,
		RecipientAccountID:  rc.cfg.AccountID,
		EventCategory:       "Management",
	}
	if rec.UserIdentity.AccountID == "" && rec.UserIdentity.Type != "Unknown" {
		rec.UserIdentity.AccountID = rc.cfg.AccountID
	}
	rec.Resources = rc.resources(r, region, form, d.Resources)
	// The parameters in a pooled buffer; the record in one of the
	// recorder's record buffers, which the event carries to the store.
	buf := bufs.Get().(*[]byte)
	defer bufs.Put(buf)
	if d.RequestParameters == nil {
		scratch, err := appendRequestParameters((*buf)[:0], r, c, form)
		if err != nil {
			return store.Event{}, false
		}
		if cap(scratch) > cap(*buf) && cap(scratch) <= maxPooledBuf {
			*buf = scratch[:0] // grown: keep the larger one
		}
		rec.requestJSON = scratch
	}
	b, err := rec.appendJSON(rc.records.get())
	if err != nil {
		return store.Event{}, false
	}
	ev := store.Event{
		ID: rec.EventID, Time: c.Start, Name: op, Source: rec.EventSource, ReadOnly: readOnly,
		Username: username(rec.UserIdentity), AccessKeyID: rec.UserIdentity.AccessKeyID, Record: rc.records.fit(b),
		Resources: make([]store.EventResource, len(rec.Resources)),
	}
	for i, res := range rec.Resources {
		ev.Resources[i] = store.EventResource{Type: res.Type, Name: res.ARN}
	}
	return ev, true
}

// bufs are build's buffers for request parameters, each grown to the
// largest it wrote (up to maxPooledBuf).
const maxPooledBuf = 64 << 10

var bufs = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// formOf parses an awsQuery request's body (STS, IAM).
func formOf(r *http.Request, c httpx.Completed) url.Values {
	if c.Family == nil || c.Family.Protocol != httpx.AWSQuery {
		return nil
	}
	v, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil
	}
	body, err := url.ParseQuery(string(c.Body))
	if err != nil {
		return nil
	}
	for k, vs := range body {
		v[k] = vs
	}
	for k := range v {
		// A presigned request's signature, key scope and session token.
		if strings.HasPrefix(strings.ToLower(k), "x-amz-") {
			delete(v, k)
		}
	}
	return v
}

// appendRequestParameters appends the parameters of a request as
// requestParameters records them (scrubbed): its path values, then its
// form (awsQuery) or its JSON object body's members, a later one of a
// name replacing an earlier one.
func appendRequestParameters(b []byte, r *http.Request, c httpx.Completed, form url.Values) ([]byte, error) {
	var small [8]param
	ps := small[:0]
	for _, name := range pathNames(r.Pattern) {
		if v := r.PathValue(name); v != "" {
			ps = append(ps, param{key: name, str: v})
		}
	}
	switch {
	case form != nil:
		for k, vs := range form {
			if k == "Action" || k == "Version" || len(vs) == 0 {
				continue
			}
			ps = append(ps, param{key: lowerFirst(k), str: clip(vs[0], 4096)})
		}
	case len(c.Body) > 0:
		more, plain := bodyParams(ps, c.Body)
		if plain {
			ps = more
			break
		}
		// Escapes, floats, non-ASCII: decoded, and written from the map.
		var body map[string]any
		if json.Unmarshal(c.Body, &body) == nil && len(body) > 0 {
			p := make(map[string]any, len(ps)+len(body))
			for _, x := range ps {
				p[x.key] = x.str
			}
			maps.Copy(p, body)
			return appendScrubbedMap(b, p)
		}
	}
	return appendParams(b, ps), nil
}

// patternNames caches pathNames' answers by pattern (the host's routes).
var patternNames sync.Map // string -> []string

// pathNames are the wildcard names of a ServeMux pattern.
func pathNames(pattern string) []string {
	if names, ok := patternNames.Load(pattern); ok {
		return names.([]string)
	}
	var out []string
	for _, seg := range strings.Split(pattern, "/") {
		if strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "}") {
			name := strings.TrimSuffix(strings.Trim(seg, "{}"), "...")
			if name != "$" {
				out = append(out, name)
			}
		}
	}
	patternNames.Store(pattern, out)
	return out
}

// resources are the resources a request names: the cluster and
// association of its path, a tagged ARN, the role, user or policy of an
// awsQuery form, and what the handler added; each once.
func (rc *Recorder) resources(r *http.Request, region string, form url.Values, extra []Resource) []Resource {
	out := make([]Resource, 0, 2+len(extra))
	add := func(typ, arn string) {
		if arn == "" || slices.ContainsFunc(out, func(x Resource) bool { return x.ARN == arn && x.Type == typ }) {
			return
		}
		out = append(out, Resource{AccountID: rc.cfg.AccountID, Type: typ, ARN: arn})
	}
	cluster := r.PathValue("name")
	if cluster == "" {
		cluster = r.PathValue("clusterName")
	}
	if cluster != "" && rc.cfg.ClusterARN != nil {
		add(TypeCluster, rc.cfg.ClusterARN(region, cluster))
	}
	if id := r.PathValue("associationId"); id != "" && cluster != "" && rc.cfg.AssociationARN != nil {
		add(TypeAssociation, rc.cfg.AssociationARN(region, cluster, id))
	}
	if arn := r.PathValue("resourceArn"); arn != "" {
		add(typeOfARN(arn), arn)
	}
	if form != nil {
		iam := "arn:aws:iam::" + rc.cfg.AccountID + ":"
		add(TypeRole, form.Get("RoleArn"))
		if n := form.Get("RoleName"); n != "" {
			add(TypeRole, iam+"role/"+n)
		}
		if n := form.Get("UserName"); n != "" {
			add(TypeUser, iam+"user/"+n)
		}
		add(TypePolicy, form.Get("PolicyArn"))
		add(TypeAccessKey, form.Get("AccessKeyId"))
		add(TypeOIDCProvider, form.Get("OpenIDConnectProviderArn"))
	}
	for _, x := range extra {
		add(x.Type, x.ARN)
	}
	return out
}

func typeOfARN(arn string) string {
	switch {
	case strings.Contains(arn, ":podidentityassociation/"):
		return TypeAssociation
	case strings.Contains(arn, ":cluster/"):
		return TypeCluster
	}
	return "AWS::EKS::Resource"
}

// identityOf is the caller as CloudTrail describes it. Without an
// identity (authentication refused it, or --auth none), the access key
// the request's signature names, if any.
func identityOf(r *http.Request) UserIdentity {
	id, ok := authz.FromContext(r.Context())
	if !ok {
		return UserIdentity{Type: "Unknown", AccessKeyID: signingKey(r)}
	}
	u := UserIdentity{ARN: id.ARN, AccountID: id.Account, PrincipalID: id.UserID, AccessKeyID: id.AccessKeyID}
	switch {
	case strings.HasSuffix(id.ARN, ":root"):
		u.Type = "Root"
	case strings.Contains(id.ARN, ":assumed-role/"):
		u.Type = "AssumedRole"
		if id.Session != nil {
			sc := &SessionContext{}
			sc.SessionIssuer.Type = "Role"
			sc.SessionIssuer.ARN = id.Session.RoleARN
			sc.SessionIssuer.UserName = id.Session.RoleARN[strings.LastIndexByte(id.Session.RoleARN, '/')+1:]
			u.SessionContext = sc
		}
	case strings.Contains(id.ARN, ":user/"):
		u.Type = "IAMUser"
		u.UserName = id.ARN[strings.LastIndexByte(id.ARN, '/')+1:]
	default:
		u.Type = "Unknown"
	}
	return u
}

// username is the Username lookup attribute: the user's name, an assumed
// role's session name, "root".
func username(u UserIdentity) string {
	switch u.Type {
	case "Root":
		return "root"
	case "IAMUser":
		return u.UserName
	case "AssumedRole":
		return u.ARN[strings.LastIndexByte(u.ARN, '/')+1:]
	}
	return ""
}

// signingKey is the access key ID a SigV4 Authorization header names.
func signingKey(r *http.Request) string {
	a := r.Header.Get("Authorization")
	if _, rest, ok := strings.Cut(a, "Credential="); ok {
		if key, _, ok := strings.Cut(rest, "/"); ok {
			return clip(key, 128)
		}
	}
	key, _, _ := strings.Cut(r.URL.Query().Get("X-Amz-Credential"), "/")
	return clip(key, 128)
}

func sourceIP(addr string) string {
	if host, _, err := net.SplitHostPort(addr); err == nil {
		return host
	}
	return addr
}

func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
