//! Parsing a [`Viewport`] from the command-line form `WIDTHxHEIGHT`.

use std::str::FromStr;

use crate::Viewport;

/// Largest accepted width or height: Chromium refuses windows beyond this.
pub const MAX_VIEWPORT_SIDE: u32 = 16_384;

/// A viewport string that is not `WIDTHxHEIGHT`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid viewport {input:?}: {reason}; write it as WIDTHxHEIGHT in CSS pixels, e.g. 1280x720"
)]
pub struct ViewportParseError {
    /// The text that was given.
    pub input: String,
    /// What is wrong with it.
    pub reason: String,
}

impl FromStr for Viewport {
    type Err = ViewportParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let fail = |reason: String| ViewportParseError {
            input: s.to_owned(),
            reason,
        };
        let (w, h) = s
            .trim()
            .split_once(['x', 'X'])
            .ok_or_else(|| fail("no `x` between width and height".into()))?;
        let side = |t: &str, what: &str| -> Result<u32, ViewportParseError> {
            let n: u32 = t
                .parse()
                .map_err(|_| fail(format!("{what} {t:?} is not a whole number")))?;
            if n == 0 || n > MAX_VIEWPORT_SIDE {
                return Err(fail(format!(
                    "{what} {n} is outside 1..={MAX_VIEWPORT_SIDE}"
                )));
            }
            Ok(n)
        };
        Ok(Viewport {
            width: side(w, "width")?,
            height: side(h, "height")?,
        })
    }
}

impl std::fmt::Display for Viewport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}x{}", self.width, self.height)
    }
}
