//! One CDP message as the multiplexer sees it: the top-level fields it routes by, with
//! `params`, `result` and `error` kept as raw JSON text so that a large message (a screenshot,
//! a DOM snapshot) is scanned once and copied, never parsed into a tree.
//!
//! A CDP message has only these top-level members: `id` (commands and their responses),
//! `method` and `params` (commands and events), `result` or `error` (responses) and
//! `sessionId` (anything sent on, or coming from, a session other than the connection's own).

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;

/// A parsed message borrowing from its text.
#[derive(Debug, Deserialize)]
pub(crate) struct Frame<'a> {
    /// The command id; present on commands and responses, absent on events. Kept raw: a client
    /// may send any JSON there, and must get back exactly what it sent.
    #[serde(borrow, default)]
    pub id: Option<&'a RawValue>,
    /// The command or event name.
    #[serde(borrow, default)]
    pub method: Option<Cow<'a, str>>,
    /// The session the message belongs to; absent for the connection's own (browser) session.
    #[serde(borrow, default, rename = "sessionId")]
    pub session_id: Option<Cow<'a, str>>,
    /// Command or event parameters.
    #[serde(borrow, default)]
    pub params: Option<&'a RawValue>,
    /// A response's result.
    #[serde(borrow, default)]
    pub result: Option<&'a RawValue>,
    /// A response's error.
    #[serde(borrow, default)]
    pub error: Option<&'a RawValue>,
}

impl<'a> Frame<'a> {
    /// Parses one message; `None` when it is not a JSON object of CDP's shape.
    pub(crate) fn parse(text: &'a str) -> Option<Frame<'a>> {
        // serde would also read a struct from a JSON array, by position: CDP has none.
        if !text.trim_start().starts_with('{') {
            return None;
        }
        serde_json::from_str(text).ok()
    }

    /// The id as an integer, when it is one (Chrome only answers integer ids).
    pub(crate) fn int_id(&self) -> Option<u64> {
        self.id.and_then(|r| r.get().parse::<u64>().ok())
    }
}

/// The session a command names as its `sessionId` parameter: for `Target.detachFromTarget`
/// and `Target.sendMessageToTarget`, the commands that act on a session other than the one
/// they are sent on. `None` for other commands, and when the parameter is absent or not a
/// string (Chrome answers those itself).
pub(crate) fn param_session<'a>(
    method: &str,
    params: Option<&'a RawValue>,
) -> Option<Cow<'a, str>> {
    #[derive(Deserialize)]
    struct Named<'a> {
        #[serde(borrow, rename = "sessionId")]
        session_id: Option<Cow<'a, str>>,
    }
    if !matches!(
        method,
        "Target.detachFromTarget" | "Target.sendMessageToTarget"
    ) {
        return None;
    }
    serde_json::from_str::<Named<'a>>(params?.get())
        .ok()?
        .session_id
}

/// Writes a message with `id` (raw JSON text), `session_id` and the frame's other members.
pub(crate) fn encode(frame: &Frame<'_>, id: Option<&str>, session_id: Option<&str>) -> String {
    let size = frame.params.map_or(0, |p| p.get().len())
        + frame.result.map_or(0, |p| p.get().len())
        + frame.error.map_or(0, |p| p.get().len())
        + 128;
    let mut out = String::with_capacity(size);
    out.push('{');
    let mut first = true;
    let mut member = |out: &mut String, name: &str, raw: &str| {
        if !first {
            out.push(',');
        }
        first = false;
        out.push('"');
        out.push_str(name);
        out.push_str("\":");
        out.push_str(raw);
    };
    if let Some(id) = id {
        member(&mut out, "id", id);
    }
    if let Some(m) = &frame.method {
        member(&mut out, "method", &json_string(m));
    }
    if let Some(s) = session_id {
        member(&mut out, "sessionId", &json_string(s));
    }
    if let Some(p) = frame.params {
        member(&mut out, "params", p.get());
    }
    if let Some(r) = frame.result {
        member(&mut out, "result", r.get());
    }
    if let Some(e) = frame.error {
        member(&mut out, "error", e.get());
    }
    out.push('}');
    out
}

/// A JSON string literal.
pub(crate) fn json_string(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

/// An error response like Chrome's own, for a command the multiplexer answers itself.
pub(crate) fn error_response(
    id: Option<&str>,
    session_id: Option<&str>,
    code: i64,
    message: &str,
) -> String {
    let mut out = String::from("{");
    if let Some(id) = id {
        out.push_str("\"id\":");
        out.push_str(id);
        out.push(',');
    }
    if let Some(s) = session_id {
        out.push_str("\"sessionId\":");
        out.push_str(&json_string(s));
        out.push(',');
    }
    out.push_str(&format!(
        "\"error\":{{\"code\":{code},\"message\":{}}}}}",
        json_string(message)
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_round_trips_with_a_new_id_and_session() {
        let text = r#"{"id":7,"method":"Runtime.evaluate","sessionId":"S1","params":{"expression":"1 + \"a\""}}"#;
        let f = Frame::parse(text).unwrap();
        assert_eq!(f.int_id(), Some(7));
        assert_eq!(f.method.as_deref(), Some("Runtime.evaluate"));
        let out = encode(&f, Some("42"), Some("B"));
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["id"], 42);
        assert_eq!(v["sessionId"], "B");
        assert_eq!(v["params"]["expression"], "1 + \"a\"");
        let stripped = encode(&f, Some("7"), None);
        assert!(!stripped.contains("sessionId"));
    }

    #[test]
    fn responses_keep_result_and_error_verbatim() {
        let f =
            Frame::parse(r#"{"id":3,"result":{"a":[1,2,{"b":null}]},"sessionId":"X"}"#).unwrap();
        assert_eq!(
            encode(&f, Some("9"), None),
            r#"{"id":9,"result":{"a":[1,2,{"b":null}]}}"#
        );
        let f = Frame::parse(r#"{"id":3,"error":{"code":-32000,"message":"no"}}"#).unwrap();
        assert_eq!(
            encode(&f, Some("1"), None),
            r#"{"id":1,"error":{"code":-32000,"message":"no"}}"#
        );
    }

    #[test]
    fn a_session_named_as_a_parameter_is_found_only_where_it_acts() {
        let p = |t: &'static str| Some(serde_json::from_str::<&RawValue>(t).unwrap());
        let detach = p(r#"{"sessionId":"S\u0031"}"#);
        assert_eq!(
            param_session("Target.detachFromTarget", detach).as_deref(),
            Some("S1")
        );
        assert_eq!(
            param_session(
                "Target.sendMessageToTarget",
                p(r#"{"message":"{}","sessionId":"X"}"#)
            )
            .as_deref(),
            Some("X")
        );
        assert_eq!(param_session("Runtime.evaluate", detach), None);
        assert_eq!(
            param_session("Target.detachFromTarget", p(r#"{"sessionId":5}"#)),
            None
        );
        assert_eq!(
            param_session("Target.detachFromTarget", p(r#"{"targetId":"T"}"#)),
            None
        );
        assert_eq!(param_session("Target.detachFromTarget", None), None);
    }

    #[test]
    fn non_objects_and_non_integer_ids_are_told_apart() {
        assert!(Frame::parse("[1]").is_none());
        assert!(Frame::parse("nope").is_none());
        assert_eq!(
            Frame::parse(r#"{"id":"x","method":"A.b"}"#)
                .unwrap()
                .int_id(),
            None
        );
        assert_eq!(
            Frame::parse(r#"{"id":-1,"method":"A.b"}"#)
                .unwrap()
                .int_id(),
            None
        );
    }

    #[test]
    fn error_responses_look_like_chromes() {
        let e = error_response(
            Some("5"),
            Some("S"),
            -32001,
            "Session with given id not found.",
        );
        let v: serde_json::Value = serde_json::from_str(&e).unwrap();
        assert_eq!(v["id"], 5);
        assert_eq!(v["sessionId"], "S");
        assert_eq!(v["error"]["code"], -32001);
    }
}
