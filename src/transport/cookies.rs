//! A cookie jar for `http.cookies: true`: `Set-Cookie` values from responses are sent back as
//! one `Cookie` header on the run's later requests. It works the same live and under replay, where
//! the recorded (masked) `Set-Cookie` values feed it, so recordings and replays agree.
//! Deliberately simple: one jar per run, no domains, paths or expiry (a recipe talks to one API).

use std::collections::BTreeMap;

use crate::http::{RequestSpec, ResponseData};

#[derive(Debug, Default, Clone)]
pub struct Jar {
    cookies: BTreeMap<String, String>,
}

impl Jar {
    /// Keeps the cookies a response sets (several `Set-Cookie` values are joined by newlines).
    pub fn take(&mut self, response: &ResponseData) {
        if let Some(set) = response.headers.get("set-cookie") {
            self.take_lines(set);
        }
    }

    /// Keeps the cookies of `Set-Cookie` values joined by newlines (a response's or a redirect
    /// hop's).
    pub fn take_lines(&mut self, set: &str) {
        for line in set.lines() {
            let pair = line.split(';').next().unwrap_or_default();
            if let Some((name, value)) = pair.split_once('=') {
                let name = name.trim();
                if !name.is_empty() {
                    self.cookies.insert(name.to_owned(), value.trim().to_owned());
                }
            }
        }
    }

    /// The request with the jar's cookies, unless it sets its own `Cookie` header.
    pub fn give(&self, request: &RequestSpec) -> Option<RequestSpec> {
        if request.headers.contains_key("cookie") {
            return None;
        }
        let header = self.header()?;
        let mut request = request.clone();
        request.headers.insert("cookie".into(), header);
        Some(request)
    }

    /// The `Cookie` header that sends every cookie in the jar, if it holds any.
    pub fn header(&self) -> Option<String> {
        if self.cookies.is_empty() {
            return None;
        }
        let header: Vec<String> = self.cookies.iter().map(|(name, value)| format!("{name}={value}")).collect();
        Some(header.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_and_sends_cookies() {
        let mut jar = Jar::default();
        let mut response = ResponseData { status: 200, headers: BTreeMap::new(), body: None };
        response.headers.insert("set-cookie".into(), "sid=abc; Path=/; HttpOnly\ntheme=dark".into());
        jar.take(&response);
        let request = RequestSpec {
            method: "GET".into(),
            url: "/x".into(),
            headers: BTreeMap::new(),
            body: None,
            absolute_url: String::new(),
            parsed: crate::http::ParsedUrl::default(),
        };
        assert_eq!(jar.give(&request).unwrap().headers["cookie"], "sid=abc; theme=dark");
    }
}
