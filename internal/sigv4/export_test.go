package sigv4

// AuthorizationScope is authorizationScope, for FuzzParseAuthorization.
var AuthorizationScope = authorizationScope
