package sts

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"
)

// EKSServicePrincipal is the principal that makes EKS Auth's first role
// assumption (AssumeRoleInput.Caller nil, Principal empty).
const EKSServicePrincipal = "pods.eks.amazonaws.com"

// Config configures a Service.
type Config struct {
	// Region is the region the STS endpoint serves (informational).
	Region string
	// AccountID is podid's account: the admin identity's account.
	AccountID string
	// Partition is the ARN partition ("aws" when empty).
	Partition string
	// Keys are the session-sealing master keys (at least 16 bytes each,
	// KeySize recommended; see KeyFromStore). The first seals new
	// sessions; all of them open existing ones, so a rotated-out key can
	// stay until its sessions expire.
	Keys [][]byte
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// Logger receives one line per vended session (never secrets or
	// tokens), at debug level when the caller logs it (CallerLogs);
	// slog.Default() when nil.
	Logger *slog.Logger
	// Roles, when set, must allow every role assumption (the role's trust
	// policy and the caller's identity policies: podid's IAM, --iam
	// enforce). nil: STS's own rules decide alone (--iam off).
	Roles RoleAuthorizer
}

// Service is podid's local STS. It is safe for concurrent use.
type Service struct {
	cfg    Config
	keys   []*keySet
	cache  *sessionCache
	log    *slog.Logger
	nowFn  func() time.Time
	region string

	rmu   sync.Mutex
	roles map[string]roleInfo // by role ARN, at most maxCachedRoles
}

// roleInfo is what AssumeRole derives from a role ARN: whether it is a
// role ARN of this partition, its account, its role ID. It depends on the
// ARN's text alone, so it never goes stale.
type roleInfo struct {
	ok          bool
	account, id string
}

// maxCachedRoles bounds Service.roles; past it the map restarts.
const maxCachedRoles = 4096

// role returns arn's roleInfo, derived once per valid role ARN.
func (s *Service) role(arn string) roleInfo {
	s.rmu.Lock()
	r, ok := s.roles[arn]
	s.rmu.Unlock()
	if ok {
		return r
	}
	m := roleARNRE.FindStringSubmatch(arn)
	if m == nil || m[1] != s.cfg.Partition {
		return roleInfo{} // not remembered: refusals cost what they did
	}
	r = roleInfo{ok: true, account: m[2], id: RoleID(arn)}
	s.rmu.Lock()
	if len(s.roles) >= maxCachedRoles {
		clear(s.roles)
	}
	s.roles[arn] = r
	s.rmu.Unlock()
	return r
}

// New returns a Service.
func New(cfg Config) (*Service, error) {
	if cfg.Partition == "" {
		cfg.Partition = "aws"
	}
	if !accountRE.MatchString(cfg.AccountID) {
		return nil, fmt.Errorf("sts: account ID %q is not 12 digits", cfg.AccountID)
	}
	if len(cfg.Keys) == 0 {
		return nil, errors.New("sts: no session key")
	}
	s := &Service{cfg: cfg, log: cfg.Logger, nowFn: cfg.Now, region: cfg.Region, cache: newSessionCache(sessionCacheSize),
		roles: map[string]roleInfo{}}
	for i, k := range cfg.Keys {
		ks, err := deriveKeys(k)
		if err != nil {
			return nil, fmt.Errorf("sts: key %d: %w", i, err)
		}
		s.keys = append(s.keys, ks)
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.nowFn == nil {
		s.nowFn = time.Now
	}
	return s, nil
}

func (s *Service) now() time.Time { return s.nowFn() }

// Now is the service's clock.
func (s *Service) Now() time.Time { return s.nowFn() }

// AccountID returns the service's account.
func (s *Service) AccountID() string { return s.cfg.AccountID }

// RootARN is the ARN of the account's root: the admin identity.
func (s *Service) RootARN() string {
	return "arn:" + s.cfg.Partition + ":iam::" + s.cfg.AccountID + ":root"
}

// Limits STS applies.
const (
	DefaultDuration      = 3600
	MinDuration          = 900
	MaxDuration          = 43200
	MaxChainedDuration   = 3600
	maxTags              = 50
	maxPolicyARNs        = 10
	packedPolicyAllotted = 2048
)

var (
	accountRE = regexp.MustCompile(`^\d{12}$`)
	// arn:PARTITION:iam::ACCOUNT:role/[PATH/]NAME
	roleARNRE = regexp.MustCompile(`^arn:([a-z0-9-]+):iam::(\d{12}):role/((?:[\x21-\x7e]*/)?)([\w+=,.@-]{1,64})$`)
)

const (
	patSessionName = `[\w+=,.@-]*`
	patExternalID  = `[\w+=,.@:\/-]*`
	patTagKey      = `[\p{L}\p{Z}\p{N}_.:/=+\-@]+`
	patTagValue    = `[\p{L}\p{Z}\p{N}_.:/=+\-@]*`
)

func length(v string) int { return utf8.RuneCountInString(v) }

func checkLen(ve *ValidationErrors, v, member string, min, max int) {
	n := length(v)
	switch {
	case n < min:
		ve.Add(&v, member, fmt.Sprintf("Member must have length greater than or equal to %d", min))
	case max > 0 && n > max:
		ve.Add(&v, member, fmt.Sprintf("Member must have length less than or equal to %d", max))
	}
}

// The model's patterns as character classes (a regexp costs half of an
// AssumeRole): \w is ASCII [A-Za-z0-9_] as in Java's regular expressions.
func wordRune(r rune) bool {
	return r < utf8.RuneSelf && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_')
}

func sessionNameRune(r rune) bool { return wordRune(r) || strings.ContainsRune("+=,.@-", r) }
func externalIDRune(r rune) bool  { return wordRune(r) || strings.ContainsRune("+=,.@:/-", r) }
func tagRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.Is(unicode.Z, r) || unicode.IsNumber(r) || strings.ContainsRune("_.:/=+-@", r)
}

// runeClass is a pattern's character class, its ASCII members in a table
// (the six session tags of every EKS Auth assumption are ASCII, and
// unicode's range tables cost more than the rest of validate).
type runeClass struct {
	ascii [utf8.RuneSelf]bool
	ok    func(rune) bool
}

func newRuneClass(ok func(rune) bool) *runeClass {
	c := &runeClass{ok: ok}
	for r := range rune(utf8.RuneSelf) {
		c.ascii[r] = ok(r)
	}
	return c
}

var (
	sessionNameClass = newRuneClass(sessionNameRune)
	externalIDClass  = newRuneClass(externalIDRune)
	tagClass         = newRuneClass(tagRune)
)

// all reports whether every character of v is in the class.
func (c *runeClass) all(v string) bool {
	for i := 0; i < len(v); i++ {
		if v[i] >= utf8.RuneSelf {
			return strings.IndexFunc(v[i:], func(r rune) bool { return !c.ok(r) }) < 0
		}
		if !c.ascii[v[i]] {
			return false
		}
	}
	return true
}

func checkPattern(ve *ValidationErrors, v, member string, class *runeClass, pattern string) {
	if !class.all(v) {
		ve.Add(&v, member, "Member must satisfy regular expression pattern: "+pattern)
	}
}

// tagOK reports whether v is a tag key or value checkLen and checkPattern
// would pass: min to max characters, each a tagRune.
func tagOK(v string, min, max int) bool {
	n := length(v)
	return n >= min && n <= max && tagClass.all(v)
}

// validate applies the model's member constraints (ValidationError).
func validate(in *AssumeRoleInput) *Error {
	var ve ValidationErrors
	checkLen(&ve, in.RoleARN, "roleArn", 20, 2048)
	checkLen(&ve, in.RoleSessionName, "roleSessionName", 2, 64)
	checkPattern(&ve, in.RoleSessionName, "roleSessionName", sessionNameClass, patSessionName)
	if d := in.DurationSeconds; d != 0 && (d < MinDuration || d > MaxDuration) {
		v := strconv.Itoa(int(d))
		if d < MinDuration {
			ve.Add(&v, "durationSeconds", fmt.Sprintf("Member must have value greater than or equal to %d", MinDuration))
		} else {
			ve.Add(&v, "durationSeconds", fmt.Sprintf("Member must have value less than or equal to %d", MaxDuration))
		}
	}
	if in.ExternalID != "" {
		checkLen(&ve, in.ExternalID, "externalId", 2, 1224)
		checkPattern(&ve, in.ExternalID, "externalId", externalIDClass, patExternalID)
	}
	if len(in.PolicyARNs) > maxPolicyARNs {
		v := "[" + strings.Join(in.PolicyARNs, ", ") + "]"
		ve.Add(&v, "policyArns", fmt.Sprintf("Member must have length less than or equal to %d", maxPolicyARNs))
	}
	for i, a := range in.PolicyARNs {
		checkLen(&ve, a, fmt.Sprintf("policyArns.%d.member.arn", i+1), 20, 2048)
	}
	if len(in.Tags) > maxTags {
		v := tagListString(in.Tags)
		ve.Add(&v, "tags", fmt.Sprintf("Member must have length less than or equal to %d", maxTags))
	}
	for i, t := range in.Tags {
		if tagOK(t.Key, 1, 128) && tagOK(t.Value, 0, 256) {
			continue // the member names are formatted only for an error
		}
		km := fmt.Sprintf("tags.%d.member.key", i+1)
		vm := fmt.Sprintf("tags.%d.member.value", i+1)
		checkLen(&ve, t.Key, km, 1, 128)
		if t.Key != "" {
			checkPattern(&ve, t.Key, km, tagClass, patTagKey)
		}
		checkLen(&ve, t.Value, vm, 0, 256)
		checkPattern(&ve, t.Value, vm, tagClass, patTagValue)
	}
	if len(in.TransitiveTagKeys) > maxTags {
		v := "[" + strings.Join(in.TransitiveTagKeys, ", ") + "]"
		ve.Add(&v, "transitiveTagKeys", fmt.Sprintf("Member must have length less than or equal to %d", maxTags))
	}
	for i, k := range in.TransitiveTagKeys {
		if tagOK(k, 1, 128) {
			continue
		}
		m := fmt.Sprintf("transitiveTagKeys.%d.member", i+1)
		checkLen(&ve, k, m, 1, 128)
		if k != "" {
			checkPattern(&ve, k, m, tagClass, patTagKey)
		}
	}
	return ve.err()
}

func tagListString(tags []Tag) string {
	parts := make([]string, len(tags))
	for i, t := range tags {
		parts[i] = "Tag(Key=" + t.Key + ", Value=" + t.Value + ")"
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

func invalidParameter(msg string) *Error {
	return &Error{Code: CodeInvalidParameterValue, Status: http.StatusBadRequest, Message: msg}
}

func validationError(msg string) *Error {
	return &Error{Code: CodeValidation, Status: http.StatusBadRequest, Message: msg}
}

// mergeTags applies STS's tag rules: keys are case-insensitive and unique,
// transitive keys must be among the request's tags, and a request may not
// set a key the calling session passes on transitively. It returns the new
// session's tags (inherited transitive tags first) and transitive keys.
func mergeTags(in *AssumeRoleInput, caller *Session) ([]Tag, []string, *Error) {
	keys := make(map[string]bool, len(in.Tags))
	for _, t := range in.Tags {
		lk := strings.ToLower(t.Key)
		if keys[lk] {
			return nil, nil, invalidParameter("Duplicate tag keys found. Please note that Tag keys are case insensitive.")
		}
		keys[lk] = true
	}
	for _, k := range in.TransitiveTagKeys {
		if !keys[strings.ToLower(k)] {
			return nil, nil, invalidParameter("The specified transitive tag key must be included in the requested tags.")
		}
	}
	var tags []Tag
	var transitive []string
	if caller != nil {
		inherited := make(map[string]bool, len(caller.TransitiveTagKeys))
		for _, k := range caller.TransitiveTagKeys {
			inherited[strings.ToLower(k)] = true
			if keys[strings.ToLower(k)] {
				return nil, nil, invalidParameter("One of the specified transitive tag keys can't be set because it conflicts with a transitive tag key from the calling session.")
			}
		}
		for _, t := range caller.Tags {
			if inherited[strings.ToLower(t.Key)] {
				tags = append(tags, t)
			}
		}
		transitive = append(transitive, caller.TransitiveTagKeys...)
	}
	tags = append(tags, in.Tags...)
	seen := make(map[string]bool)
	for _, k := range transitive {
		seen[strings.ToLower(k)] = true
	}
	for _, k := range in.TransitiveTagKeys {
		if !seen[strings.ToLower(k)] {
			seen[strings.ToLower(k)] = true
			transitive = append(transitive, k)
		}
	}
	return tags, transitive, nil
}

// packedSize approximates STS's packed-policy measure. Real STS compresses
// the session policy and tags into a binary form whose limit it does not
// publish; podid counts the bytes of the compacted policy JSON plus each
// session tag's key and value (inherited tags included) against an allotment
// of 2048 bytes (the documented plaintext limit for session policies). The
// result is the percentage reported as PackedPolicySize; over 100 is
// PackedPolicyTooLarge.
func packedSize(policy []byte, tags []Tag) int {
	n := len(policy)
	for _, t := range tags {
		n += len(t.Key) + len(t.Value)
	}
	if n == 0 {
		return 0
	}
	return int(math.Ceil(float64(n) * 100 / packedPolicyAllotted))
}

// compactPolicy checks that the session policy is a JSON object and returns
// it without insignificant white space.
func compactPolicy(p string) ([]byte, *Error) {
	if p == "" {
		return nil, nil
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal([]byte(p), &obj); err != nil {
		return nil, &Error{Code: CodeMalformedPolicyDocument, Status: http.StatusBadRequest, Message: "Syntax errors in policy."}
	}
	var buf bytes.Buffer
	json.Compact(&buf, []byte(p)) // valid: just parsed
	return buf.Bytes(), nil
}

// AssumeRole makes a role assumption with STS's semantics: member
// validation (ValidationError), tag rules (InvalidParameterValue), policy
// checks (MalformedPolicyDocument, PackedPolicyTooLarge) and, when Caller
// is set, role chaining: the caller's credentials must be a current session
// of this STS (InvalidClientTokenId, ExpiredToken), the new session inherits
// its transitive tags, may last at most one hour, and records the chain.
// Errors are *Error.
func (s *Service) AssumeRole(ctx context.Context, in AssumeRoleInput) (AssumeRoleOutput, error) {
	var caller *Session
	if in.Caller != nil {
		c, err := s.VerifyCredentials(*in.Caller)
		if err != nil {
			return AssumeRoleOutput{}, err
		}
		caller = c
	}
	if e := validate(&in); e != nil {
		return AssumeRoleOutput{}, e
	}
	role := s.role(in.RoleARN)
	if !role.ok {
		return AssumeRoleOutput{}, validationError("Request ARN is invalid")
	}
	account := role.account
	duration := int(in.DurationSeconds)
	if duration == 0 {
		duration = DefaultDuration
	}
	if caller != nil && duration > MaxChainedDuration {
		return AssumeRoleOutput{}, validationError("The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.")
	}
	tags, transitive, e := mergeTags(&in, caller)
	if e != nil {
		return AssumeRoleOutput{}, e
	}
	policy, e := compactPolicy(in.Policy)
	if e != nil {
		return AssumeRoleOutput{}, e
	}
	packed := packedSize(policy, tags)
	if packed > 100 {
		return AssumeRoleOutput{}, &Error{Code: CodePackedPolicyTooLarge, Status: http.StatusBadRequest,
			Message: fmt.Sprintf("Packed policy consumes %d%% of allotted space, please use smaller policy.", packed)}
	}
	if s.cfg.Roles != nil {
		err := s.cfg.Roles.AuthorizeAssumeRole(ctx, Assumption{
			RoleARN: in.RoleARN, RoleSessionName: in.RoleSessionName, ExternalID: in.ExternalID,
			Caller: caller, Principal: in.Principal, SourceARN: in.SourceARN, Tags: tags,
		})
		if err != nil {
			return AssumeRoleOutput{}, err
		}
	}

	akid, err := newAccessKeyID()
	if err != nil {
		return AssumeRoleOutput{}, fmt.Errorf("generating an access key ID: %w", err)
	}
	now := s.now().UTC().Truncate(time.Second)
	sess := &Session{
		AccessKeyID:       akid,
		RoleARN:           in.RoleARN,
		RoleID:            role.id,
		RoleSessionName:   in.RoleSessionName,
		Partition:         s.cfg.Partition,
		Account:           account,
		Tags:              tags,
		TransitiveTagKeys: transitive,
		Policy:            in.Policy,
		PolicyARNs:        in.PolicyARNs,
		ExternalID:        in.ExternalID,
		SourcePrincipal:   in.Principal,
		SourceContext:     in.SourceContext,
		Issued:            now,
		Expiration:        now.Add(time.Duration(duration) * time.Second),
	}
	if sess.SourcePrincipal == "" {
		sess.SourcePrincipal = EKSServicePrincipal
	}
	if caller != nil {
		sess.Chain = append(append([]string(nil), caller.Chain...), caller.AssumedRoleARN())
		sess.SourcePrincipal = caller.SourcePrincipal
	}
	k := s.keys[0]
	token, err := k.seal(sess)
	if err != nil {
		return AssumeRoleOutput{}, fmt.Errorf("sealing the session: %w", err)
	}
	sess.secret, sess.token = k.secretFor(akid), token
	s.cache.keep(token, sess)
	level := slog.LevelInfo
	if in.CallerLogs {
		level = slog.LevelDebug
	}
	s.log.LogAttrs(ctx, level, "sts: assumed role",
		slog.String("role", in.RoleARN), slog.String("session", in.RoleSessionName),
		slog.String("accessKeyId", akid), slog.Int("chain", len(sess.Chain)),
		slog.Time("expiration", sess.Expiration))
	return AssumeRoleOutput{
		Credentials: Credentials{
			AccessKeyID:     akid,
			SecretAccessKey: sess.secret,
			SessionToken:    token,
			Expiration:      sess.Expiration,
		},
		AssumedRoleARN:   sess.AssumedRoleARN(),
		AssumedRoleID:    sess.AssumedRoleID(),
		PackedPolicySize: packed,
	}, nil
}

func roleName(roleARN string) string {
	if i := strings.LastIndexByte(roleARN, '/'); i >= 0 {
		return roleARN[i+1:]
	}
	return roleARN
}

func assumedRoleARN(partition, account, role, session string) string {
	return "arn:" + partition + ":sts::" + account + ":assumed-role/" + role + "/" + session
}
