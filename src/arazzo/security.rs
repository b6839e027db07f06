//! A request's `auth` as an OpenAPI security scheme and Respect's `x-security` step extension.
//!
//! `basic` and `bearer` are HTTP security schemes (`components.securitySchemes`); each step
//! that sends one names it in `x-security`, with the credential's values as runtime expressions
//! (`$inputs.SHOP_CLIENT_SECRET`, `$steps.login.outputs.token`), which is how Redocly's Respect
//! and other runners pass a credential. `auth: none` is an operation with `security: []`.
//! OAuth2 client credentials has no runner-neutral form: the caller warns.

use serde_json::{Map, Value as Json, json};

use crate::model::Auth;

/// The HTTP authentication schemes a step can send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Scheme {
    Basic,
    Bearer,
}

impl Scheme {
    /// The name written under `components.securitySchemes`.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Scheme::Basic => "basicAuth",
            Scheme::Bearer => "bearerAuth",
        }
    }

    /// The Security Scheme Object.
    pub(crate) fn object(self) -> Json {
        match self {
            Scheme::Basic => json!({ "type": "http", "scheme": "basic" }),
            Scheme::Bearer => json!({ "type": "http", "scheme": "bearer" }),
        }
    }

    /// Whether a Security Scheme Object of some document is this scheme.
    pub(crate) fn matches(self, object: &Json) -> bool {
        object["type"] == "http"
            && object["scheme"]
                .as_str()
                .is_some_and(|scheme| scheme.eq_ignore_ascii_case(self.object()["scheme"].as_str().unwrap_or_default()))
    }
}

/// What an operation says about authentication.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Security {
    /// Nothing: the recipe sends no `auth` (a credential header, if any, is a parameter).
    Unspecified,
    /// `auth: none`: `security: []`.
    Anonymous,
    Scheme(Scheme),
}

/// A step's credential: the scheme and its values, each a recipe template.
#[derive(Debug)]
pub(crate) enum Credential<'a> {
    None,
    Anonymous,
    Sent {
        scheme: Scheme,
        values: Vec<(&'static str, &'a str)>,
    },
    /// OAuth2 client credentials: no `x-security` form.
    Unexpressed(&'static str),
}

/// The credential a request sends: its own `auth`, else `http.auth`.
pub(crate) fn credential<'a>(http: Option<&'a Auth>, request: Option<&'a Auth>) -> Credential<'a> {
    match request.or(http) {
        None => Credential::None,
        Some(Auth::None) => Credential::Anonymous,
        Some(Auth::Basic { username, password }) => {
            Credential::Sent { scheme: Scheme::Basic, values: vec![("username", &username.text), ("password", &password.text)] }
        }
        Some(Auth::Bearer(token)) => Credential::Sent { scheme: Scheme::Bearer, values: vec![("token", &token.text)] },
        Some(Auth::Oauth2(_)) => {
            Credential::Unexpressed("OAuth2 client credentials (`auth: oauth2`) have no `x-security` form; the step sends no token")
        }
    }
}

/// The `x-security` entry of a step: by name when the description declares the scheme, else
/// inline.
pub(crate) fn step_entry(scheme: Scheme, declared: Option<&str>, values: Map<String, Json>) -> Json {
    match declared {
        Some(name) => json!([{ "schemeName": name, "values": values }]),
        None => json!([{ "scheme": scheme.object(), "values": values }]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::TemplateString;

    fn template(text: &str) -> TemplateString {
        TemplateString {
            text: text.into(),
            span: crate::diagnostic::Span::default(),
            style: crate::yaml::Style::Quoted,
            kind: crate::template::classify(text),
        }
    }

    #[test]
    fn a_requests_own_auth_wins_over_the_default() {
        let default = Auth::Bearer(template("{{ vars.token }}"));
        let login = Auth::Basic { username: template("me"), password: template("{{ env.SECRET }}") };
        let Credential::Sent { scheme, values } = credential(Some(&default), Some(&login)) else { panic!("basic") };
        assert_eq!((scheme, values), (Scheme::Basic, vec![("username", "me"), ("password", "{{ env.SECRET }}")]));
        assert!(matches!(credential(Some(&default), None), Credential::Sent { scheme: Scheme::Bearer, .. }));
        assert!(matches!(credential(Some(&default), Some(&Auth::None)), Credential::Anonymous));
        assert!(matches!(credential(None, None), Credential::None));
    }

    #[test]
    fn schemes_of_another_document_match_by_type_and_scheme() {
        assert!(Scheme::Bearer.matches(&json!({ "type": "http", "scheme": "Bearer", "bearerFormat": "JWT" })));
        assert!(!Scheme::Bearer.matches(&json!({ "type": "http", "scheme": "basic" })));
        assert!(!Scheme::Basic.matches(&json!({ "type": "apiKey", "in": "header", "name": "X-Key" })));
        assert_eq!(step_entry(Scheme::Basic, None, Map::new())[0]["scheme"], json!({ "type": "http", "scheme": "basic" }));
    }
}
