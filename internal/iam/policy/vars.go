package policy

import "strings"

// A template is a policy string that may hold policy variables
// (${aws:username}, ${aws:PrincipalTag/team, 'default'}) and the escapes
// ${*}, ${?} and ${$}. Documents of Version 2008-10-17 have no variables:
// their strings are taken as written (IAM user guide, "IAM policy
// elements: Variables and tags").
type template struct {
	raw   string
	parts []part // nil: raw has no variable or escape
}

// A part is text as written (wildcards meaningful), an escaped literal
// character, or a variable.
type part struct {
	text       string
	literal    bool // text is one escaped character: never a wildcard
	key        string
	def        string
	hasDefault bool
}

func (p part) isVar() bool { return p.key != "" }

// parseTemplate splits s into parts; withVars is false for 2008-10-17
// documents. An unterminated "${" is text.
func parseTemplate(s string, withVars bool) template {
	t := template{raw: s}
	if !withVars || !strings.Contains(s, "${") {
		return t
	}
	rest := s
	for {
		i := strings.Index(rest, "${")
		if i < 0 {
			break
		}
		j := strings.IndexByte(rest[i:], '}')
		if j < 0 {
			break
		}
		if i > 0 {
			t.parts = append(t.parts, part{text: rest[:i]})
		}
		t.parts = append(t.parts, parseVar(rest[i+2:i+j]))
		rest = rest[i+j+1:]
	}
	if rest != "" {
		t.parts = append(t.parts, part{text: rest})
	}
	return t
}

// parseVar reads the inside of ${...}: an escape, a key, or
// "key, 'default'".
func parseVar(in string) part {
	switch in {
	case "*", "?", "$":
		return part{text: in, literal: true}
	}
	key, def, ok := strings.Cut(in, ",")
	p := part{key: strings.TrimSpace(key)}
	if ok {
		d := strings.TrimSpace(def)
		if len(d) >= 2 && d[0] == '\'' && d[len(d)-1] == '\'' {
			p.def, p.hasDefault = d[1:len(d)-1], true
		}
	}
	if p.key == "" {
		return part{text: "${" + in + "}"}
	}
	return p
}

func (t template) hasVars() bool { return t.parts != nil }

// resolveVar returns a variable's value: the context key's single value,
// or the default. A missing or multi-valued key without a default does not
// resolve, and the policy value that holds it matches nothing.
func resolveVar(p part, ctx Keys) (string, bool) {
	if v, ok := get(ctx, p.key); ok && len(v) == 1 {
		return v[0], true
	}
	if p.hasDefault {
		return p.def, true
	}
	return "", false
}

// expand returns t with its variables substituted and escapes resolved.
func (t template) expand(ctx Keys) (string, bool) {
	if t.parts == nil {
		return t.raw, true
	}
	var b strings.Builder
	for _, p := range t.parts {
		if p.isVar() {
			v, ok := resolveVar(p, ctx)
			if !ok {
				return "", false
			}
			b.WriteString(v)
			continue
		}
		b.WriteString(p.text)
	}
	return b.String(), true
}

// glob compiles t as a wildcard pattern: "*" and "?" in written text are
// wildcards, escapes and substituted values are literal. Only for
// templates without variables (use expandGlob otherwise).
func (t template) glob(fold bool) glob {
	raw := t.raw
	if fold {
		raw = lowerASCII(raw)
	}
	if t.parts == nil {
		return glob(nil).appendWild(raw)
	}
	g, _ := t.expandGlob(nil, fold)
	return g
}

// expandGlob compiles t as a wildcard pattern with its variables
// substituted from ctx.
func (t template) expandGlob(ctx Keys, fold bool) (glob, bool) {
	var g glob
	for _, p := range t.parts {
		s := p.text
		if p.isVar() {
			v, ok := resolveVar(p, ctx)
			if !ok {
				return nil, false
			}
			s = v
		}
		if fold {
			s = lowerASCII(s)
		}
		if p.isVar() || p.literal {
			g = g.appendLiteral(s)
		} else {
			g = g.appendWild(s)
		}
	}
	return g, true
}
