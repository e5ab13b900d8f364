package audit

import (
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/podid/podid/eksapi"
)

// An event's record is written here rather than by json.Marshal: the
// same bytes (the tests hold it to json.Marshal's and to the recorder's
// former path, and fuzz both), without reflection, without copying the
// maps Scrub would copy, and without decoding a request's JSON body into
// a map only to encode it again (bodyParams transcodes it).

// appendJSON appends json.Marshal's encoding of rec to b, with each of
// its three maps that is not nil replaced by Scrub's copy, and with
// requestJSON (already scrubbed) in place of RequestParameters when it is
// set. The error is json.Marshal's, for a value only it can encode and
// refuses.
func (rec *Record) appendJSON(b []byte) ([]byte, error) {
	var err error
	o := object{b: append(b, '{')}
	o.str("eventVersion", rec.EventVersion, false)
	o.key("userIdentity")
	o.b = rec.UserIdentity.appendJSON(o.b)
	o.str("eventTime", rec.EventTime, false)
	o.str("eventSource", rec.EventSource, false)
	o.str("eventName", rec.EventName, false)
	o.str("awsRegion", rec.AWSRegion, false)
	o.str("sourceIPAddress", rec.SourceIPAddress, false)
	o.str("userAgent", rec.UserAgent, false)
	o.str("errorCode", rec.ErrorCode, true)
	o.str("errorMessage", rec.ErrorMessage, true)
	o.key("requestParameters")
	if rec.requestJSON != nil {
		o.b = append(o.b, rec.requestJSON...)
	} else if o.b, err = appendMember(o.b, rec.RequestParameters); err != nil {
		return nil, err
	}
	o.key("responseElements")
	if o.b, err = appendMember(o.b, rec.ResponseElements); err != nil {
		return nil, err
	}
	if len(rec.AdditionalEventData) > 0 {
		o.key("additionalEventData")
		if o.b, err = appendScrubbedMap(o.b, rec.AdditionalEventData); err != nil {
			return nil, err
		}
	}
	o.str("requestID", rec.RequestID, false)
	o.str("eventID", rec.EventID, false)
	o.key("readOnly")
	o.b = strconv.AppendBool(o.b, rec.ReadOnly)
	if len(rec.Resources) > 0 {
		o.key("resources")
		o.b = append(o.b, '[')
		for i, res := range rec.Resources {
			if i > 0 {
				o.b = append(o.b, ',')
			}
			r := object{b: append(o.b, '{')}
			r.str("accountId", res.AccountID, true)
			r.str("type", res.Type, false)
			r.str("ARN", res.ARN, false)
			o.b = append(r.b, '}')
		}
		o.b = append(o.b, ']')
	}
	o.str("eventType", rec.EventType, false)
	o.key("managementEvent")
	o.b = strconv.AppendBool(o.b, rec.ManagementEvent)
	o.str("recipientAccountId", rec.RecipientAccountID, false)
	o.str("eventCategory", rec.EventCategory, false)
	return append(o.b, '}'), nil
}

func (u *UserIdentity) appendJSON(b []byte) []byte {
	o := object{b: append(b, '{')}
	o.str("type", u.Type, false)
	o.str("principalId", u.PrincipalID, true)
	o.str("arn", u.ARN, true)
	o.str("accountId", u.AccountID, true)
	o.str("accessKeyId", u.AccessKeyID, true)
	o.str("userName", u.UserName, true)
	if sc := u.SessionContext; sc != nil {
		o.key("sessionContext")
		o.b = append(o.b, `{"sessionIssuer":`...)
		s := object{b: append(o.b, '{')}
		s.str("type", sc.SessionIssuer.Type, false)
		s.str("arn", sc.SessionIssuer.ARN, false)
		s.str("userName", sc.SessionIssuer.UserName, false)
		o.b = append(s.b, '}', '}')
	}
	return append(o.b, '}')
}

// object appends an object's members; keys are plain ASCII.
type object struct {
	b    []byte
	some bool
}

func (o *object) key(k string) {
	if o.some {
		o.b = append(o.b, ',')
	}
	o.some = true
	o.b = append(o.b, '"')
	o.b = append(o.b, k...)
	o.b = append(o.b, '"', ':')
}

// str appends a string member, or nothing for "" when omitEmpty.
func (o *object) str(k, v string, omitEmpty bool) {
	if omitEmpty && v == "" {
		return
	}
	o.key(k)
	o.b = eksapi.AppendJSONString(o.b, v)
}

// hiddenJSON is Hidden as a JSON string.
const hiddenJSON = `"` + Hidden + `"`

// appendScrubbed appends json.Marshal(Scrub(v)) to b.
func appendScrubbed(b []byte, v any) ([]byte, error) {
	switch x := v.(type) {
	case map[string]any:
		return appendScrubbedMap(b, x)
	case []any:
		// Scrub makes a nil slice an empty one.
		b = append(b, '[')
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			var err error
			if b, err = appendScrubbed(b, e); err != nil {
				return nil, err
			}
		}
		return append(b, ']'), nil
	case string:
		return eksapi.AppendJSONString(b, x), nil
	case bool:
		return strconv.AppendBool(b, x), nil
	case nil:
		return append(b, "null"...), nil
	case int:
		return strconv.AppendInt(b, int64(x), 10), nil
	case int64:
		return strconv.AppendInt(b, x, 10), nil
	case float64:
		if !math.IsNaN(x) && !math.IsInf(x, 0) {
			return appendFloat(b, x), nil
		}
	}
	// Anything else Scrub leaves as it is: json.Marshal's encoding.
	j, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return append(b, j...), nil
}

// appendMember appends one of a Record's maps: null when nil (json.Marshal
// writes it so), else json.Marshal(Scrub(m)).
func appendMember(b []byte, m map[string]any) ([]byte, error) {
	if m == nil {
		return append(b, "null"...), nil
	}
	return appendScrubbedMap(b, m)
}

// appendScrubbedMap appends json.Marshal(Scrub(m)) to b: keys sorted, a
// secret member's value Hidden; a nil m is {}, as Scrub makes it.
func appendScrubbedMap(b []byte, m map[string]any) ([]byte, error) {
	var small [16]string
	keys := small[:0]
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = eksapi.AppendJSONString(b, k)
		b = append(b, ':')
		if secretKey(k) {
			b = append(b, hiddenJSON...)
			continue
		}
		var err error
		if b, err = appendScrubbed(b, m[k]); err != nil {
			return nil, err
		}
	}
	return append(b, '}'), nil
}

// appendFloat appends a finite float64 as encoding/json does: 'f' format
// but for very small and very large magnitudes, whose exponent it writes
// without a leading zero (1e-07 as 1e-7).
func appendFloat(b []byte, f float64) []byte {
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

// A param is one member of an event's requestParameters before it is
// written: a string (a path value, a form value) or a JSON value of the
// request's body, as it arrived.
type param struct {
	key string
	str string
	raw []byte // when not nil, the JSON value (a plainValue)
}

// appendParams appends the object of ps as json.Marshal(Scrub(m)) writes
// it, m being the map the params made in order (a later param of a key
// replacing an earlier one). ps is sorted in place.
func appendParams(b []byte, ps []param) []byte {
	slices.SortStableFunc(ps, func(x, y param) int { return strings.Compare(x.key, y.key) })
	b = append(b, '{')
	first := true
	for i, p := range ps {
		if i+1 < len(ps) && ps[i+1].key == p.key {
			continue // replaced by a later one
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = eksapi.AppendJSONString(b, p.key)
		b = append(b, ':')
		switch {
		case secretKey(p.key):
			b = append(b, hiddenJSON...)
		case p.raw != nil:
			b = appendPlain(b, p.raw)
		default:
			b = eksapi.AppendJSONString(b, p.str)
		}
	}
	return append(b, '}')
}

// bodyParams appends the members of a JSON object body to ps, each value
// as it arrived, when decoding the body into a map and encoding it again
// would give back exactly those bytes (scrubbing aside, which
// appendParams does): every key and string plain (printable ASCII that
// json.Marshal does not escape, no escape sequence), every number an
// integer of at most 15 digits, no white space inside a value but between
// its tokens. ok is false for any other body (the caller decodes it); a
// body that is JSON null adds nothing.
func bodyParams(ps []param, body []byte) (_ []param, ok bool) {
	i := skipWS(body, 0)
	if i+4 <= len(body) && string(body[i:i+4]) == "null" {
		return ps, skipWS(body, i+4) == len(body)
	}
	if i == len(body) || body[i] != '{' {
		return ps, false
	}
	n := len(ps)
	i = skipWS(body, i+1)
	if i < len(body) && body[i] == '}' {
		return ps, skipWS(body, i+1) == len(body)
	}
	for {
		key, next, ok := plainString(body, i)
		if !ok {
			return ps[:n], false
		}
		i = skipWS(body, next)
		if i == len(body) || body[i] != ':' {
			return ps[:n], false
		}
		i = skipWS(body, i+1)
		end, ok := plainValue(body, i, 0)
		if !ok {
			return ps[:n], false
		}
		ps = append(ps, param{key: string(key[1 : len(key)-1]), raw: body[i:end]})
		i = skipWS(body, end)
		if i == len(body) {
			return ps[:n], false
		}
		if body[i] == '}' {
			if skipWS(body, i+1) != len(body) {
				return ps[:n], false
			}
			return ps, true
		}
		if body[i] != ',' {
			return ps[:n], false
		}
		i = skipWS(body, i+1)
	}
}

// maxPlainDepth bounds the nesting plainValue follows (deeper values take
// the general path).
const maxPlainDepth = 32

// plainValue returns the end of the plain JSON value at body[i:]: a
// plain string, a short integer, true, false, null, or an object or array
// of plain values. ok is false when the value is anything else, or is
// not valid JSON.
func plainValue(body []byte, i, depth int) (end int, ok bool) {
	if i >= len(body) {
		return 0, false
	}
	switch c := body[i]; {
	case c == '"':
		_, next, ok := plainString(body, i)
		return next, ok
	case c == '-' || c >= '0' && c <= '9':
		return plainInt(body, i)
	case c == 't':
		return literal(body, i, "true")
	case c == 'f':
		return literal(body, i, "false")
	case c == 'n':
		return literal(body, i, "null")
	case c == '{' || c == '[':
		if depth == maxPlainDepth {
			return 0, false
		}
		closer := byte('}')
		if c == '[' {
			closer = ']'
		}
		i = skipWS(body, i+1)
		if i < len(body) && body[i] == closer {
			return i + 1, true
		}
		for {
			if c == '{' {
				_, next, ok := plainString(body, i)
				if !ok {
					return 0, false
				}
				i = skipWS(body, next)
				if i == len(body) || body[i] != ':' {
					return 0, false
				}
				i = skipWS(body, i+1)
			}
			end, ok := plainValue(body, i, depth+1)
			if !ok {
				return 0, false
			}
			i = skipWS(body, end)
			if i == len(body) {
				return 0, false
			}
			if body[i] == closer {
				return i + 1, true
			}
			if body[i] != ',' {
				return 0, false
			}
			i = skipWS(body, i+1)
		}
	}
	return 0, false
}

// appendPlain appends the plain value raw (plainValue's) as json.Marshal
// writes what json.Unmarshal decodes it to, scrubbed: objects' members
// sorted by key (the last of a repeated key kept), secrets Hidden, no
// white space.
func appendPlain(b []byte, raw []byte) []byte {
	switch raw[0] {
	case '{', '[':
	default:
		return append(b, raw...) // a plain scalar is written as it is
	}
	if raw[0] == '[' {
		b = append(b, '[')
		i := skipWS(raw, 1)
		for n := 0; raw[i] != ']'; n++ {
			if n > 0 {
				b = append(b, ',')
			}
			end, _ := plainValue(raw, i, 0)
			b = appendPlain(b, raw[i:end])
			i = skipWS(raw, end)
			if raw[i] == ',' {
				i = skipWS(raw, i+1)
			}
		}
		return append(b, ']')
	}
	var small [8]param
	ps := small[:0]
	i := skipWS(raw, 1)
	for raw[i] != '}' {
		key, next, _ := plainString(raw, i)
		i = skipWS(raw, skipWS(raw, next)+1) // past ':'
		end, _ := plainValue(raw, i, 0)
		ps = append(ps, param{key: string(key[1 : len(key)-1]), raw: raw[i:end]})
		i = skipWS(raw, end)
		if raw[i] == ',' {
			i = skipWS(raw, i+1)
		}
	}
	return appendParams(b, ps)
}

// plainString reads the JSON string at body[i:] if json.Marshal would
// write its value back as the same bytes: printable ASCII, no escape, none
// of < > & (which it escapes). s is the string with its quotes.
func plainString(body []byte, i int) (s []byte, next int, ok bool) {
	if i >= len(body) || body[i] != '"' {
		return nil, 0, false
	}
	for j := i + 1; j < len(body); j++ {
		switch c := body[j]; {
		case c == '"':
			return body[i : j+1], j + 1, true
		case c < 0x20 || c > 0x7e || c == '\\' || c == '<' || c == '>' || c == '&':
			return nil, 0, false
		}
	}
	return nil, 0, false
}

// plainInt reads an integer of at most 15 digits at body[i:] (a float64
// holds it exactly, and json.Marshal writes it back the same).
func plainInt(body []byte, i int) (end int, ok bool) {
	j := i
	if body[j] == '-' {
		j++
	}
	start := j
	for j < len(body) && body[j] >= '0' && body[j] <= '9' {
		j++
	}
	digits := j - start
	if digits == 0 || digits > 15 || digits > 1 && body[start] == '0' {
		return 0, false
	}
	if j < len(body) && (body[j] == '.' || body[j] == 'e' || body[j] == 'E') {
		return 0, false
	}
	return j, true
}

func literal(body []byte, i int, lit string) (end int, ok bool) {
	if len(body)-i < len(lit) || string(body[i:i+len(lit)]) != lit {
		return 0, false
	}
	return i + len(lit), true
}

func skipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}
