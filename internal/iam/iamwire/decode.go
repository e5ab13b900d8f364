package iamwire

import (
	"fmt"
	"github.com/podid/podid/eksapi"
	"net/http"
	"net/url"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
)

// maxListIndex bounds the N of a "Tags.member.N" parameter.
const maxListIndex = 1000

// constraint is a member constraint of the IAM service model.
type constraint struct {
	min, max   int // length in characters; max 0: unbounded
	pattern    *regexp.Regexp
	patternSrc string // as the model writes it (and IAM's message quotes it)
	enum       []string
	numMin     int64 // for numbers
	numMax     int64
}

func pattern(src, re string) (*regexp.Regexp, string) {
	return regexp.MustCompile(`^(?:` + re + `)$`), src
}

var constraints = func() map[string]constraint {
	c := map[string]constraint{}
	add := func(name string, min, max int, src, re string) {
		k := constraint{min: min, max: max}
		if re != "" {
			k.pattern, k.patternSrc = pattern(src, re)
		}
		c[name] = k
	}
	const name = `[\w+=,.@-]+`
	add("roleName", 1, 64, name, `[\w+=,.@-]+`)
	add("userName", 1, 64, name, `[\w+=,.@-]+`)
	add("existingUserName", 1, 128, name, `[\w+=,.@-]+`)
	add("policyName", 1, 128, name, `[\w+=,.@-]+`)
	add("path", 1, 512, `(\u002F)|(\u002F[\u0021-\u007E]+\u002F)`, `/|/[\x{21}-\x{7E}]+/`)
	add("pathPrefix", 1, 512, `\u002F[\u0021-\u007F]*`, `/[\x{21}-\x{7F}]*`)
	add("policyPath", 1, 512, `((/[A-Za-z0-9\.,\+@=_-]+)*)/`, `(/[A-Za-z0-9.,+@=_-]+)*/`)
	add("policyPathPrefix", 1, 512, `((/[A-Za-z0-9\.,\+@=_-]+)*)/`, `(/[A-Za-z0-9.,+@=_-]+)*/`)
	add("policyDocument", 1, 131072, `[\u0009\u000A\u000D\u0020-\u00FF]+`, `[\x{09}\x{0A}\x{0D}\x{20}-\x{FF}]+`)
	add("description", 0, 1000, `[\u0009\u000A\u000D\u0020-\u007E\u00A1-\u00FF]*`, `[\x{09}\x{0A}\x{0D}\x{20}-\x{7E}\x{A1}-\x{FF}]*`)
	add("marker", 1, 320, `[\u0020-\u00FF]+`, `[\x{20}-\x{FF}]+`)
	add("arn", 20, 2048, "", "")
	add("tagKey", 1, 128, `[\p{L}\p{Z}\p{N}_.:/=+\-@]+`, `[\p{L}\p{Z}\p{N}_.:/=+\-@]+`)
	add("tagValue", 0, 256, `[\p{L}\p{Z}\p{N}_.:/=+\-@]*`, `[\p{L}\p{Z}\p{N}_.:/=+\-@]*`)
	add("accessKeyId", 16, 128, `[\w]+`, `\w+`)
	add("clientID", 1, 255, "", "")
	add("thumbprint", 40, 40, "", "")
	add("oidcURL", 1, 255, "", "")
	add("versionId", 0, 0, `v[1-9][0-9]*(\.[A-Za-z0-9-]*)?`, `v[1-9][0-9]*(\.[A-Za-z0-9-]*)?`)
	c["status"] = constraint{enum: []string{"Active", "Inactive", "Expired"}}
	c["assignmentStatus"] = constraint{enum: []string{"Assigned", "Unassigned", "Any"}}
	c["policyScope"] = constraint{enum: []string{"All", "AWS", "Local"}}
	c["policyUsage"] = constraint{enum: []string{"PermissionsPolicy", "PermissionsBoundary"}}
	c["entityFilter"] = constraint{enum: []string{"User", "Role", "Group", "LocalManagedPolicy", "AWSManagedPolicy"}}
	c["maxItems"] = constraint{numMin: 1, numMax: 1000}
	c["maxSessionDuration"] = constraint{numMin: 3600, numMax: 43200}
	return c
}()

// ParseForm parses an awsQuery request: the URL query and the
// form-encoded body, the body's values taking precedence.
func ParseForm(rawQuery, body string) (url.Values, error) {
	params, err := url.ParseQuery(rawQuery)
	if err != nil {
		return nil, &Error{Code: "MalformedQueryString", Status: http.StatusBadRequest, Message: "The query string is malformed."}
	}
	form, err := url.ParseQuery(body)
	if err != nil {
		return nil, &Error{Code: "MalformedQueryString", Status: http.StatusBadRequest, Message: "The request body is not a valid form."}
	}
	for k, v := range form {
		params[k] = v
	}
	if err := eksapi.CheckMemberIndices(params); err != nil {
		return nil, &Error{Code: "MalformedQueryString", Status: http.StatusBadRequest, Message: err.Error()}
	}
	return params, nil
}

// ParseRequest reads an IAM request's Action and Version and decodes its
// parameters into the action's input (a pointer: *CreateRoleInput, ...),
// validated against the service model: a missing required member, a
// length, a pattern, a range or an enum violation is a ValidationError
// worded as IAM's. An unknown action is InvalidAction.
func ParseRequest(params url.Values) (action string, input any, err error) {
	action = params.Get("Action")
	if action == "" {
		return "", nil, &Error{Code: CodeMissingAction, Status: http.StatusBadRequest, Message: "The request is missing an action or a required parameter."}
	}
	version := params.Get("Version")
	if version == "" {
		return action, nil, &Error{Code: CodeMissingParameter, Status: http.StatusBadRequest, Message: "The request must contain the parameter Version"}
	}
	mk, ok := inputs[action]
	if version != APIVersion || !ok {
		return action, nil, newError(CodeInvalidAction, http.StatusBadRequest, "Could not find operation %s for version %s", action, version)
	}
	input = mk()
	if err := Decode(params, input); err != nil {
		return action, nil, err
	}
	return action, input, nil
}

// Decode fills the struct dst points to from params, per its q tags; the
// error is a ValidationError (*Error).
func Decode(params url.Values, dst any) error {
	var ve validationErrors
	decodeStruct(params, reflect.ValueOf(dst).Elem(), &ve)
	if e := ve.err(); e != nil {
		return e
	}
	return nil
}

type fieldSpec struct {
	index    []int
	param    string
	member   string // the name in validation messages: lowerCamel
	required bool
	c        *constraint
	cname    string
	// hide: messages leave the value out ("Value at 'url' ..."); whole:
	// a list's violations are one message for the list, naming every
	// constraint of its members.
	hide, whole bool
}

var specCache sync.Map // reflect.Type -> []fieldSpec

func specsOf(t reflect.Type) []fieldSpec {
	if s, ok := specCache.Load(t); ok {
		return s.([]fieldSpec)
	}
	var specs []fieldSpec
	for _, f := range reflect.VisibleFields(t) {
		tag, ok := f.Tag.Lookup("q")
		if !ok || f.Anonymous {
			continue
		}
		parts := strings.Split(tag, ",")
		fs := fieldSpec{index: f.Index, param: parts[0], member: lowerFirst(parts[0])}
		for _, p := range parts[1:] {
			switch {
			case p == "req":
				fs.required = true
			case p == "hide":
				fs.hide = true
			case p == "whole":
				fs.whole = true
			case strings.HasPrefix(p, "c="):
				c, ok := constraints[p[2:]]
				if !ok {
					panic("iamwire: unknown constraint " + p) // a programming error, caught by every test
				}
				fs.c, fs.cname = &c, p[2:]
			}
		}
		specs = append(specs, fs)
	}
	specCache.Store(t, specs)
	return specs
}

func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	// IAM's validation names: roleName, policyArn, accessKeyId, sSHPublicKeyId-like edge cases aside.
	return strings.ToLower(s[:1]) + s[1:]
}

func decodeStruct(params url.Values, v reflect.Value, ve *validationErrors) {
	for _, fs := range specsOf(v.Type()) {
		f := v.FieldByIndex(fs.index)
		switch f.Interface().(type) {
		case string:
			s, ok := param(params, fs.param)
			if !ok {
				if fs.required {
					ve.add(nil, fs.member, "Member must not be null")
				}
				continue
			}
			checkString(ve, fs.member, shown(s, fs.hide), fs.c)
			f.SetString(s)
		case *string:
			if s, ok := param(params, fs.param); ok {
				checkString(ve, fs.member, shown(s, fs.hide), fs.c)
				f.Set(reflect.ValueOf(&s))
			}
		case *int32:
			s, ok := param(params, fs.param)
			if !ok {
				continue
			}
			n, err := strconv.ParseInt(s, 10, 32)
			if err != nil {
				ve.add(&s, fs.member, "Member must be a valid integer")
				continue
			}
			if fs.c != nil {
				if n < fs.c.numMin {
					ve.add(&s, fs.member, fmt.Sprintf("Member must have value greater than or equal to %d", fs.c.numMin))
				} else if n > fs.c.numMax {
					ve.add(&s, fs.member, fmt.Sprintf("Member must have value less than or equal to %d", fs.c.numMax))
				}
			}
			n32 := int32(n)
			f.Set(reflect.ValueOf(&n32))
		case *bool:
			s, ok := param(params, fs.param)
			if !ok {
				continue
			}
			b, err := strconv.ParseBool(s)
			if err != nil || (s != "true" && s != "false") {
				ve.add(&s, fs.member, "Member must be a valid boolean")
				continue
			}
			f.Set(reflect.ValueOf(&b))
		case []string:
			vals, present := memberList(params, fs.param, "")
			if !present {
				if fs.required {
					ve.add(nil, fs.member, "Member must not be null")
				}
				continue
			}
			if fs.whole {
				checkList(ve, fs.member, vals, fs.c)
			} else {
				for _, val := range vals {
					checkString(ve, fs.member+".member", shown(val, fs.hide), fs.c)
				}
			}
			f.Set(reflect.ValueOf(vals))
		case []Tag:
			tags, present := decodeTags(params, fs.param, ve)
			if !present {
				if fs.required {
					ve.add(nil, fs.member, "Member must not be null")
				}
				continue
			}
			f.Set(reflect.ValueOf(tags))
		}
	}
}

func param(params url.Values, name string) (string, bool) {
	v, ok := params[name]
	if !ok || len(v) == 0 {
		return "", false
	}
	return v[0], true
}

// value is a parameter's value as validation messages quote it: hidden
// values are left out.
type value struct {
	s      string
	hidden bool
}

func shown(s string, hide bool) value { return value{s, hide} }

func checkString(ve *validationErrors, member string, v value, c *constraint) {
	if msg := violation(v.s, c); msg != "" {
		ve.addValue(v, member, msg)
	}
}

// violation is the first constraint of c that s fails, worded as IAM
// words it ("" when none).
func violation(s string, c *constraint) string {
	if c == nil {
		return ""
	}
	n := utf8.RuneCountInString(s)
	switch {
	case len(c.enum) > 0:
		if !contains(c.enum, s) {
			return "Member must satisfy enum value set: [" + strings.Join(c.enum, ", ") + "]"
		}
		return ""
	case n < c.min:
		return fmt.Sprintf("Member must have length greater than or equal to %d", c.min)
	case c.max > 0 && n > c.max:
		return fmt.Sprintf("Member must have length less than or equal to %d", c.max)
	}
	if c.pattern != nil && (n > 0 || c.min > 0) && !c.pattern.MatchString(s) {
		return "Member must satisfy regular expression pattern: " + c.patternSrc
	}
	return ""
}

// checkList reports a list with a member violating c once, naming the
// members' length constraints: "Member must satisfy constraint: [Member
// must have length less than or equal to 40, Member must have length
// greater than or equal to 40]" (the list's value is not quoted).
func checkList(ve *validationErrors, member string, vals []string, c *constraint) {
	for _, v := range vals {
		if violation(v, c) != "" {
			ve.addValue(value{hidden: true}, member, fmt.Sprintf("Member must satisfy constraint: [Member must have length less than or equal to %d, Member must have length greater than or equal to %d]", c.max, c.min))
			return
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// memberList collects "PREFIX.member.N[SUFFIX]" in N order. An empty list
// is sent as "PREFIX=" (present, no elements).
func memberList(params url.Values, prefix, suffix string) ([]string, bool) {
	_, present := params[prefix]
	vals := map[int]string{}
	p := prefix + ".member."
	for k, v := range params {
		if !strings.HasPrefix(k, p) || !strings.HasSuffix(k, suffix) || len(v) == 0 {
			continue
		}
		ns := strings.TrimSuffix(strings.TrimPrefix(k, p), suffix)
		n, err := strconv.Atoi(ns)
		if err != nil || n < 1 || n > maxListIndex || strings.HasPrefix(ns, "+") {
			continue
		}
		vals[n] = v[0]
		present = true
	}
	idx := make([]int, 0, len(vals))
	for n := range vals {
		idx = append(idx, n)
	}
	sort.Ints(idx)
	out := make([]string, 0, len(idx))
	for _, n := range idx {
		out = append(out, vals[n])
	}
	return out, present
}

// decodeTags reads PREFIX.member.N.Key / .Value.
func decodeTags(params url.Values, prefix string, ve *validationErrors) ([]Tag, bool) {
	_, present := params[prefix]
	keys := map[int]string{}
	values := map[int]string{}
	p := prefix + ".member."
	for k, v := range params {
		rest, ok := strings.CutPrefix(k, p)
		if !ok || len(v) == 0 {
			continue
		}
		ns, field, ok := strings.Cut(rest, ".")
		n, err := strconv.Atoi(ns)
		if !ok || err != nil || n < 1 || n > maxListIndex || strings.HasPrefix(ns, "+") {
			continue
		}
		switch field {
		case "Key":
			keys[n] = v[0]
		case "Value":
			values[n] = v[0]
		default:
			continue
		}
		present = true
	}
	seen := map[int]bool{}
	var idx []int
	for n := range keys {
		seen[n] = true
		idx = append(idx, n)
	}
	for n := range values {
		if !seen[n] {
			idx = append(idx, n)
		}
	}
	sort.Ints(idx)
	tags := make([]Tag, 0, len(idx))
	member := lowerFirst(prefix)
	for i, n := range idx {
		k, ok := keys[n]
		if !ok {
			ve.add(nil, fmt.Sprintf("%s.%d.member.key", member, i+1), "Member must not be null")
		} else {
			checkString(ve, fmt.Sprintf("%s.%d.member.key", member, i+1), value{s: k}, ptr(constraints["tagKey"]))
		}
		v, ok := values[n]
		if !ok {
			ve.add(nil, fmt.Sprintf("%s.%d.member.value", member, i+1), "Member must not be null")
		} else {
			checkString(ve, fmt.Sprintf("%s.%d.member.value", member, i+1), value{s: v}, ptr(constraints["tagValue"]))
		}
		tags = append(tags, Tag{Key: k, Value: v})
	}
	if len(tags) > MaxTagsPerEntity {
		ve.add(nil, member, fmt.Sprintf("Member must have length less than or equal to %d", MaxTagsPerEntity))
	}
	return tags, present
}

func ptr[T any](v T) *T { return &v }

func sortStrings(s []string) { sort.Strings(s) }
