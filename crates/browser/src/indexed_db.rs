//! IndexedDB read and written by script in a document of the origin (`indexed_db.js`).
//!
//! Why script: CDP's IndexedDB domain has no write method and hands values back as shallow
//! `RemoteObject` previews, so only a script can copy them faithfully (measured on Chromium
//! 156). Where the script runs: for a live page, an isolated world of one of its frames at the
//! origin (`Page.createIsolatedWorld`), so the page's own globals cannot interfere and its
//! clients see no new page (Playwright and Puppeteer ignore worlds they did not create); for an
//! origin no page shows, the stub page. The key generator's position is not visible to script;
//! `IndexedDB.getMetadata` reports it (`keyGeneratorValue`) on a page session whose document
//! is at the origin.

use chromiumoxide::Page;
use pvault_model::IdbDatabase;
use serde_json::{Value, json};

use crate::BrowserError;
use crate::cdp::{call_page, evaluate};
use crate::stub::StubPage;

/// The script: an expression whose value is an async function of one argument.
const SCRIPT: &str = include_str!("indexed_db.js");

/// Name of the isolated world pvault reads in.
const WORLD: &str = "pvault";

/// A document of the origin the script runs in.
pub(crate) enum Doc<'a> {
    /// A live page's frame, in the execution context given (an isolated world of ours).
    Live(&'a Page, i64),
    /// The stub page, in its main world (nothing but our scripts runs there).
    Stub(&'a mut StubPage),
}

impl Doc<'_> {
    async fn evaluate(&mut self, expression: String) -> Result<Value, BrowserError> {
        match self {
            Doc::Live(page, context) => evaluate(page, expression, Some(*context)).await,
            Doc::Stub(stub) => stub.eval(expression).await,
        }
    }

    async fn call(&mut self, method: &'static str, params: Value) -> Result<Value, BrowserError> {
        match self {
            Doc::Live(page, _) => call_page(page, method, params).await,
            Doc::Stub(stub) => stub.call(method, params).await,
        }
    }
}

/// Runs the script with `arg` in `doc`.
async fn run(doc: &mut Doc<'_>, arg: &Value) -> Result<Value, BrowserError> {
    // The argument travels as a string for `JSON.parse`: V8 parses JSON faster than the same
    // data as a script literal (V8's own advice for large data; a load passes megabytes).
    let text = serde_json::to_string(&arg.to_string())
        .map_err(|e| BrowserError::cdp("Runtime.evaluate", e))?;
    doc.evaluate(format!("({SCRIPT})(JSON.parse({text}))"))
        .await
}

/// Creates an isolated world in `frame_id` of `page` and returns its execution context id.
pub(crate) async fn isolated_world(page: &Page, frame_id: &str) -> Result<i64, BrowserError> {
    let r = call_page(
        page,
        "Page.createIsolatedWorld",
        json!({"frameId": frame_id, "worldName": WORLD}),
    )
    .await?;
    r.get("executionContextId")
        .and_then(Value::as_i64)
        .ok_or_else(|| BrowserError::cdp("Page.createIsolatedWorld", "no executionContextId"))
}

/// Reads every database of the document's origin, with the key generators of
/// autoIncrement stores.
pub(crate) async fn collect(
    mut doc: Doc<'_>,
    origin: &str,
) -> Result<Vec<IdbDatabase>, BrowserError> {
    let raw = run(&mut doc, &json!({"op": "collect"})).await?;
    let mut dbs: Vec<IdbDatabase> = serde_json::from_value(raw)
        .map_err(|e| BrowserError::cdp("IndexedDB read", format!("unexpected shape: {e}")))?;
    for db in &mut dbs {
        for store in db.stores.iter_mut().filter(|s| s.auto_increment) {
            let meta = doc
                .call(
                    "IndexedDB.getMetadata",
                    json!({
                        "securityOrigin": origin,
                        "databaseName": db.name,
                        "objectStoreName": store.name,
                    }),
                )
                .await;
            // Without it the records still restore; the generator then continues from the
            // largest key, as Playwright's restore does.
            match meta {
                Ok(m) => {
                    store.key_generator = m
                        .get("keyGeneratorValue")
                        .and_then(Value::as_f64)
                        .filter(|g| *g >= 1.0)
                        .map(|g| g as u64)
                }
                Err(e) => tracing::debug!("IndexedDB.getMetadata failed: {e}"),
            }
        }
    }
    Ok(dbs)
}

/// What a restore wrote.
#[derive(Debug, Default)]
pub(crate) struct Restored {
    /// Records written.
    pub records: usize,
    /// What could not be written, as `database[/store] …: reason` (never values).
    pub failures: Vec<String>,
}

/// Writes `dbs` into the document's origin. `replace`: databases of the same name are
/// deleted first (a running session); else one that exists is a failure (a fresh browser
/// has none).
pub(crate) async fn restore(
    mut doc: Doc<'_>,
    dbs: &[IdbDatabase],
    replace: bool,
) -> Result<Restored, BrowserError> {
    let arg = json!({"op": "restore", "databases": dbs, "replace": replace});
    let r = run(&mut doc, &arg).await?;
    Ok(Restored {
        records: r.get("records").and_then(Value::as_u64).unwrap_or(0) as usize,
        failures: r
            .get("failures")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|f| f.as_str().map(str::to_owned))
            .collect(),
    })
}
