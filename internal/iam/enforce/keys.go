package enforce

import (
	"strconv"
	"strings"
	"time"

	"github.com/podid/podid/internal/iam/policy"
	"github.com/podid/podid/internal/store"
	"github.com/podid/podid/internal/sts"
)

// requestKeys are a request's condition keys, each derived when a policy
// asks for it (policy.Keys). Most policies name few keys or none (EKS Pod
// Identity's usual trust policy names none), and building every key of a
// role assumption as a map (time formatted twice, a value slice per key,
// a map entry per session tag) was half of IAM's time per assumption.
//
// Where a key has several sources, the later in this list wins, as it
// did when the map was built in that order: the base keys (aws:CurrentTime,
// aws:EpochTime, aws:SecureTransport), the request's own (given), the
// caller's (aws:Principal*, aws:username), an assumption's (aws:SourceArn,
// aws:SourceAccount, sts:RoleSessionName, sts:ExternalId, aws:RequestTag/*,
// aws:TagKeys), and an IAM resource's tags (aws:ResourceTag/*,
// iam:ResourceTag/*).
type requestKeys struct {
	now    time.Time
	secure bool // the request came over TLS
	given  policy.Context
	caller caller // no keys when its arn is empty (a service)

	assume                             bool // an assumption's keys are present
	sourceARN, sessionName, externalID string
	tags                               []sts.Tag

	resourceTags map[string]string
}

// Get implements policy.Keys: key compared case-insensitively.
func (k *requestKeys) Get(key string) ([]string, bool) {
	if v, ok := k.resourceTag(key); ok {
		return v, true
	}
	if k.assume {
		if v, ok := k.assumptionKey(key); ok {
			return v, true
		}
	}
	if k.caller.arn != "" {
		if v, ok := k.principalKey(key); ok {
			return v, true
		}
	}
	if v, ok := k.given.Get(key); ok {
		return v, true
	}
	switch {
	case strings.EqualFold(key, "aws:CurrentTime"):
		return []string{k.now.UTC().Format(time.RFC3339)}, true
	case strings.EqualFold(key, "aws:EpochTime"):
		return []string{strconv.FormatInt(k.now.Unix(), 10)}, true
	case strings.EqualFold(key, "aws:SecureTransport"):
		if k.secure {
			return overTLS, true
		}
		return plainHTTP, true
	}
	return nil, false
}

func (k *requestKeys) resourceTag(key string) ([]string, bool) {
	if len(k.resourceTags) == 0 {
		return nil, false
	}
	name, ok := cutPrefixFold(key, "aws:ResourceTag/")
	if !ok {
		if name, ok = cutPrefixFold(key, "iam:ResourceTag/"); !ok {
			return nil, false
		}
	}
	return mapValueFold(k.resourceTags, name)
}

func (k *requestKeys) assumptionKey(key string) ([]string, bool) {
	switch {
	case strings.EqualFold(key, "sts:RoleSessionName"):
		return []string{k.sessionName}, true
	case k.sourceARN != "" && strings.EqualFold(key, "aws:SourceArn"):
		return []string{k.sourceARN}, true
	case k.sourceARN != "" && strings.EqualFold(key, "aws:SourceAccount"):
		return []string{accountOf(k.sourceARN)}, true
	case k.externalID != "" && strings.EqualFold(key, "sts:ExternalId"):
		return []string{k.externalID}, true
	case len(k.tags) > 0 && strings.EqualFold(key, "aws:TagKeys"):
		keys := make([]string, len(k.tags))
		for i, t := range k.tags {
			keys[i] = t.Key
		}
		return keys, true
	}
	name, ok := cutPrefixFold(key, "aws:RequestTag/")
	if !ok {
		return nil, false
	}
	fold := -1
	for i, t := range k.tags {
		if t.Key == name {
			return []string{t.Value}, true
		}
		if fold < 0 && strings.EqualFold(t.Key, name) {
			fold = i
		}
	}
	if fold >= 0 {
		return []string{k.tags[fold].Value}, true
	}
	return nil, false
}

// principalKey is the caller's aws:PrincipalArn (a session's is its
// role's), aws:PrincipalAccount, aws:PrincipalTag/KEY and, for a user,
// aws:username.
func (k *requestKeys) principalKey(key string) ([]string, bool) {
	c := &k.caller
	switch {
	case strings.EqualFold(key, "aws:PrincipalArn"):
		if c.roleARN != "" {
			return []string{c.roleARN}, true
		}
		return []string{c.arn}, true
	case strings.EqualFold(key, "aws:PrincipalAccount"):
		if a := accountOf(c.arn); a != "" {
			return []string{a}, true
		}
		return nil, false
	case strings.EqualFold(key, "aws:username"):
		if c.kind == store.KindUser {
			return []string{c.name}, true
		}
		return nil, false
	}
	if name, ok := cutPrefixFold(key, "aws:PrincipalTag/"); ok {
		return mapValueFold(c.tags, name)
	}
	return nil, false
}

// cutPrefixFold is strings.CutPrefix with the prefix compared
// case-insensitively.
func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) < len(prefix) || !strings.EqualFold(s[:len(prefix)], prefix) {
		return "", false
	}
	return s[len(prefix):], true
}

// mapValueFold is m[key] as a value list, key compared exactly first,
// then case-insensitively.
func mapValueFold(m map[string]string, key string) ([]string, bool) {
	if v, ok := m[key]; ok {
		return []string{v}, true
	}
	for k, v := range m {
		if strings.EqualFold(k, key) {
			return []string{v}, true
		}
	}
	return nil, false
}
