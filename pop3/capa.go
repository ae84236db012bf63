package pop3

import (
	"strings"
	"time"
)

// Capabilities is a parsed CAPA reply (RFC 2449 section 6).
type Capabilities struct {
	// Lines are the capability lines as received.
	Lines []string

	Pipelining   bool
	UIDL         bool
	TOP          bool
	STLS         bool
	USER         bool
	RespCodes    bool // RESP-CODES: -ERR replies carry response codes
	AuthRespCode bool // AUTH-RESP-CODE: a failed login without [AUTH] is not a password problem
	// SASL lists the mechanisms of the SASL capability, upper case.
	SASL []string
	// LoginDelay is the minimum time between logins; negative when not
	// advertised. LoginDelayPerUser is set for the "USER" suffix, which
	// means the value may change after login.
	LoginDelay        time.Duration
	LoginDelayPerUser bool
	// Expire is the EXPIRE value in days: -1 for NEVER, -2 when not
	// advertised. 0 means the server may delete every retrieved message at
	// QUIT: inspect with TOP instead of RETR then.
	Expire        int
	ExpirePerUser bool
	// Implementation is the IMPLEMENTATION argument, if any.
	Implementation string
}

// ExpireNever and ExpireAbsent are the special values of Capabilities.Expire.
const (
	ExpireNever  = -1
	ExpireAbsent = -2
)

// Has reports whether the capability name (case-insensitive) was listed.
func (c *Capabilities) Has(name string) bool {
	if c == nil {
		return false
	}
	for _, l := range c.Lines {
		tag, _, _ := strings.Cut(l, " ")
		if strings.EqualFold(tag, name) {
			return true
		}
	}
	return false
}

// HasSASL reports whether the SASL mechanism mech was advertised.
func (c *Capabilities) HasSASL(mech string) bool {
	if c == nil {
		return false
	}
	for _, m := range c.SASL {
		if strings.EqualFold(m, mech) {
			return true
		}
	}
	return false
}

// parseCapabilities interprets CAPA lines. Unknown or malformed values are
// kept in Lines and otherwise ignored.
func parseCapabilities(lines []string) *Capabilities {
	c := &Capabilities{Lines: lines, LoginDelay: -1, Expire: ExpireAbsent}
	for _, l := range lines {
		f := strings.Fields(l)
		if len(f) == 0 {
			continue
		}
		args := f[1:]
		switch strings.ToUpper(f[0]) {
		case "PIPELINING":
			c.Pipelining = true
		case "UIDL":
			c.UIDL = true
		case "TOP":
			c.TOP = true
		case "STLS":
			c.STLS = true
		case "USER":
			c.USER = true
		case "RESP-CODES":
			c.RespCodes = true
		case "AUTH-RESP-CODE":
			c.AuthRespCode = true
		case "SASL":
			for _, m := range args {
				c.SASL = append(c.SASL, strings.ToUpper(m))
			}
		case "IMPLEMENTATION":
			c.Implementation = strings.Join(args, " ")
		case "LOGIN-DELAY":
			if len(args) > 0 {
				if n, ok := parseNum(args[0]); ok && n <= 1<<31 {
					c.LoginDelay = time.Duration(n) * time.Second
					c.LoginDelayPerUser = len(args) > 1 && strings.EqualFold(args[1], "USER")
				}
			}
		case "EXPIRE":
			if len(args) > 0 {
				if strings.EqualFold(args[0], "NEVER") {
					c.Expire = ExpireNever
				} else if n, ok := parseNum(args[0]); ok && n <= 1<<31 {
					c.Expire = int(n)
				}
				c.ExpirePerUser = c.Expire != ExpireAbsent && len(args) > 1 && strings.EqualFold(args[1], "USER")
			}
		}
	}
	return c
}
