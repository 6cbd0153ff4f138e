//! The duplicate-member rule of vault-format.md section 6: an object with two members of the
//! same name is refused at any depth, known member or not.
//!
//! Typed structs refuse a duplicate of a field they declare, but serde_json keeps the last of
//! two duplicates when it decodes into a map or a `Value`: the unknown members a cookie, an
//! origin or an IndexedDB object keeps (`extra`), IndexedDB keys and values, and every member
//! of a schema-1 body (decoded through a `Value` first). So snapshot bodies are walked once
//! before they are decoded. Profile metadata and infos need no walk: every object in them is
//! a typed struct that refuses unknown members.

use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

/// Refuses JSON that does not parse or has an object with a duplicate member name.
pub(crate) fn refuse_duplicate_members(json: &[u8]) -> Result<(), serde_json::Error> {
    let mut de = serde_json::Deserializer::from_slice(json);
    NoDuplicates.deserialize(&mut de)?;
    de.end()
}

/// Walks one JSON value, keeping nothing but the member names of the object being walked.
struct NoDuplicates;

impl<'de> DeserializeSeed<'de> for NoDuplicates {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for NoDuplicates {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(NoDuplicates)?.is_some() {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        // Most objects (a cookie, a storage item) have a handful of members: they are compared
        // on the stack, without hashing or allocating (a hash set per object made reading a
        // 1,000-cookie body back 75 % slower); larger ones go to a hash set.
        const SMALL: usize = 16;
        let mut small: [Cow<'de, str>; SMALL] = Default::default();
        let mut len = 0;
        let mut large: Option<HashSet<Cow<'de, str>>> = None;
        while let Some(name) = map.next_key_seed(MemberName)? {
            let duplicate = match &mut large {
                Some(set) => !set.insert(name),
                None if small[..len].contains(&name) => true,
                None if len < SMALL => {
                    small[len] = name;
                    len += 1;
                    false
                }
                None => {
                    let mut set: HashSet<Cow<'de, str>> =
                        small.iter_mut().map(std::mem::take).collect();
                    set.insert(name);
                    large = Some(set);
                    false
                }
            };
            if duplicate {
                return Err(de::Error::custom("duplicate member in an object"));
            }
            map.next_value_seed(NoDuplicates)?;
        }
        Ok(())
    }
}

/// A member name, borrowed from the input unless it has escapes.
struct MemberName;

impl<'de> DeserializeSeed<'de> for MemberName {
    type Value = Cow<'de, str>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for MemberName {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a member name")
    }

    fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(s))
    }

    fn visit_str<E>(self, s: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_are_refused_at_any_depth_and_nothing_else_is() {
        for ok in [
            r#"{"a":1,"b":{"a":2},"c":[{"a":1},{"a":1}]}"#,
            // Past the members compared on the stack.
            r#"{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8,"i":9,"j":10,"k":11,"l":12,"m":13,"n":14,"o":15,"p":16,"q":17,"r":18}"#,
            r#"[1,-1.5e3,true,null,"x",{}]"#,
            // Escaped names are compared decoded: these differ.
            r#"{"a":1,"\u0062":2}"#,
        ] {
            refuse_duplicate_members(ok.as_bytes()).unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
        for bad in [
            r#"{"a":1,"a":1}"#,
            // A duplicate of a member compared on the stack, found after the hash set took
            // over, and one among the later members.
            r#"{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8,"i":9,"j":10,"k":11,"l":12,"m":13,"n":14,"o":15,"p":16,"q":17,"a":18}"#,
            r#"{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8,"i":9,"j":10,"k":11,"l":12,"m":13,"n":14,"o":15,"p":16,"q":17,"r":18,"q":19}"#,
            r#"{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8,"i":9,"j":10,"k":11,"l":12,"m":13,"n":14,"o":15,"p":16,"p":17}"#,
            r#"{"x":[{"y":{"k":1,"k":2}}]}"#,
            // The same name, once escaped.
            r#"{"ab":1,"a\u0062":2}"#,
            r#"{"a":1} x"#,
        ] {
            assert!(refuse_duplicate_members(bad.as_bytes()).is_err(), "{bad}");
        }
    }
}
