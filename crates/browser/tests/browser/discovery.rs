//! Chrome discovery: NotFound names everything tried; the Debian wrapper is replaced by the
//! real binary; `--headful` without a display is a clear error before anything starts.

use std::path::PathBuf;

use pvault_browser::{BrowserError, ChromeSearch, LaunchOptions, Session, discover_chrome_in};

#[test]
fn not_found_names_what_was_tried() {
    let empty = tempfile::tempdir().unwrap();
    let search = ChromeSearch {
        path_var: empty.path().as_os_str().to_owned(),
        fallbacks: vec![empty.path().join("no-chromium")],
    };
    let err = discover_chrome_in(
        Some(PathBuf::from("/nonexistent/env-chrome")),
        Some(PathBuf::from("/nonexistent/config-chrome")),
        &search,
    )
    .unwrap_err();
    assert_eq!(err.code(), "not_found");
    let BrowserError::NotFound { tried } = &err else {
        panic!("{err}")
    };
    let text = err.to_string();
    for expected in [
        "/nonexistent/env-chrome",
        "/nonexistent/config-chrome",
        "chromium",
        "google-chrome-stable",
    ] {
        assert!(
            tried.iter().any(|t| t.contains(expected)),
            "{expected} missing from {tried:?}"
        );
        assert!(text.contains(expected));
    }
    assert!(tried.last().unwrap().contains("no-chromium"));
}

#[test]
fn wrapper_is_replaced_by_the_real_binary() {
    if !std::path::Path::new("/usr/bin/chromium").exists() {
        return;
    }
    let found = discover_chrome_in(
        Some("/usr/bin/chromium".into()),
        None,
        &ChromeSearch::default(),
    )
    .unwrap();
    assert_eq!(found, PathBuf::from("/usr/lib/chromium/chromium"));
    // A name on PATH resolves too.
    let search = ChromeSearch {
        path_var: "/usr/bin".into(),
        fallbacks: vec![],
    };
    assert_eq!(
        discover_chrome_in(None, None, &search).unwrap(),
        PathBuf::from("/usr/lib/chromium/chromium")
    );
}

#[tokio::test]
async fn headful_without_display_is_a_clear_error() {
    if std::env::var_os("DISPLAY").is_some() || std::env::var_os("WAYLAND_DISPLAY").is_some() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut opts = LaunchOptions::new(crate::support::chrome(), dir.path().to_path_buf());
    opts.headful = true;
    let err = Session::launch(opts).await.unwrap_err();
    assert_eq!(err.code(), "invalid_argument");
    assert!(err.to_string().contains("DISPLAY"), "{err}");
}
