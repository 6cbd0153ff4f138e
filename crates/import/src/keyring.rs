//! The browser's `v11`/`v12` secret from the desktop keyring, over the D-Bus session bus:
//! the Secret Service (`org.freedesktop.secrets`: gnome-keyring, KeePassXC, KWallet ≥ 5.97)
//! and KWallet's own interface (`org.kde.kwalletd6`, `org.kde.kwalletd5`). Which one is asked
//! depends on which is present on the bus (owned or activatable), not on a guess about the
//! desktop; every secret found is a candidate, and only one that decrypts a value is used.
//!
//! Lookups, as Chromium stores them:
//! - Secret Service: items with `application` = the browser's name and `xdg:schema` =
//!   `chrome_libsecret_os_crypt_password_v2` (or `_v1`), else an item labelled
//!   "<Name> Safe Storage"; for `v12`, the secret portal's items (schema
//!   `org.freedesktop.portal.Secret`, the browser's app ids first).
//! - KWallet: folder "<Name> Keys", entry "<Name> Safe Storage" in the network wallet.
//!
//! Locked items are not unlocked here (that would pop up a prompt from a daemon): a locked
//! keyring is reported, and the user unlocks it the way they normally do.

use std::collections::HashMap;

use zbus::blocking::{Connection, Proxy};
use zbus::zvariant::{OwnedObjectPath, OwnedValue, Value};
use zeroize::Zeroizing;

use crate::browsers::KeyringNames;

/// A secret found in a keyring, with where it came from (for reports; never the secret).
pub struct Found {
    /// E.g. `Secret Service item "Chromium Safe Storage"`.
    pub from: String,
    /// The secret's bytes.
    pub secret: Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for Found {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Found")
            .field("from", &self.from)
            .finish_non_exhaustive()
    }
}

/// Everything a lookup found and, for the error message, what it tried.
#[derive(Debug, Default)]
pub struct Lookup {
    /// Candidate secrets, most likely first.
    pub found: Vec<Found>,
    /// One line per keyring asked and what happened (no secrets).
    pub tried: Vec<String>,
}

impl Lookup {
    /// What was tried, as one line for an error message.
    pub fn summary(&self) -> String {
        if self.tried.is_empty() {
            "no keyring was asked".into()
        } else {
            self.tried.join("; ")
        }
    }
}

const SECRETS: &str = "org.freedesktop.secrets";
const KWALLETS: [(&str, &str); 2] = [
    ("org.kde.kwalletd6", "/modules/kwalletd6"),
    ("org.kde.kwalletd5", "/modules/kwalletd5"),
];
const APP_ID: &str = "pvault";

/// Connects to the session bus at `address`, else `$DBUS_SESSION_BUS_ADDRESS`.
fn connect(address: Option<&str>) -> Result<Connection, String> {
    match address {
        Some(a) => zbus::blocking::connection::Builder::address(a)
            .and_then(|b| b.build())
            .map_err(|e| format!("cannot connect to the D-Bus session bus at {a}: {e}")),
        None => {
            if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_none_or(|v| v.is_empty())
                && std::env::var_os("XDG_RUNTIME_DIR").is_none()
            {
                return Err("no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS is not set)".into());
            }
            Connection::session()
                .map_err(|e| format!("cannot connect to the D-Bus session bus: {e}"))
        }
    }
}

/// Whether `name` is owned on the bus or can be started by it.
fn present(conn: &Connection, name: &str) -> bool {
    let Ok(dbus) = zbus::blocking::fdo::DBusProxy::new(conn) else {
        return false;
    };
    let Ok(bus_name) = zbus::names::BusName::try_from(name) else {
        return false;
    };
    if dbus.name_has_owner(bus_name).unwrap_or(false) {
        return true;
    }
    dbus.list_activatable_names()
        .map(|names| names.iter().any(|n| n.as_str() == name))
        .unwrap_or(false)
}

/// The `v11` secret candidates for a browser.
pub fn v11(names: &KeyringNames, bus: Option<&str>) -> Lookup {
    let mut out = Lookup::default();
    let conn = match connect(bus) {
        Ok(c) => c,
        Err(e) => {
            out.tried.push(e);
            return out;
        }
    };
    let mut any = false;
    if present(&conn, SECRETS) {
        any = true;
        secret_service_v11(&conn, names, &mut out);
    }
    for (service, path) in KWALLETS {
        if present(&conn, service) {
            any = true;
            kwallet(&conn, service, path, names, &mut out);
            break;
        }
    }
    if !any {
        out.tried.push(
            "no keyring on the D-Bus session bus (neither the Secret Service org.freedesktop.secrets nor KWallet)".into(),
        );
    }
    out
}

/// The `xdg:schema` recent gnome-keyring releases give the items its secret portal backend
/// creates (42.1, Debian 12's, sets only `app_id`).
const PORTAL_SCHEMA: &str = "org.freedesktop.portal.Secret";

/// The `v12` secret candidates: the secret portal's per-application secrets, which its
/// Secret Service backend (gnome-keyring) keeps as items with `app_id` = the app id the
/// portal gave the browser (labelled "Application key for <app id>", 64 random bytes).
///
/// The app id of a browser that is not a Flatpak depends on how xdg-desktop-portal
/// identified it (its `.desktop` file or systemd scope), so the items of the browser's known
/// ids come first, then every other item of the portal's schema: a `v12` value is
/// AES-256-GCM, whose tag a wrong key cannot pass, so only the browser's own secret is ever
/// used. gnome-keyring 42 does not export these items as D-Bus objects (their properties
/// cannot be read), but `SearchItems` finds them and `GetSecrets` reads them.
pub fn v12(names: &KeyringNames, bus: Option<&str>) -> Lookup {
    let mut out = Lookup::default();
    let conn = match connect(bus) {
        Ok(c) => c,
        Err(e) => {
            out.tried.push(e);
            return out;
        }
    };
    if !present(&conn, SECRETS) {
        out.tried.push(
            "no Secret Service on the D-Bus session bus to hold the secret portal's key".into(),
        );
        return out;
    }
    let mut seen: Vec<OwnedObjectPath> = Vec::new();
    let mut locked_any = false;
    let searches = names
        .portal_app_ids
        .iter()
        .map(|id| ("app_id", *id))
        .chain([("xdg:schema", PORTAL_SCHEMA)]);
    for (attr, value) in searches {
        let attrs = HashMap::from([(attr, value)]);
        let (items, locked) = match search(&conn, &attrs) {
            Ok(r) => r,
            Err(e) => {
                out.tried.push(format!("Secret Service: {e}"));
                return out;
            }
        };
        if !locked.is_empty() && !locked_any {
            locked_any = true;
            report_locked(&mut out, &locked, "of the secret portal");
        }
        let new: Vec<OwnedObjectPath> = items.into_iter().filter(|i| !seen.contains(i)).collect();
        seen.extend(new.iter().cloned());
        fetch(
            &conn,
            &new,
            &mut out,
            &format!("secret portal item {attr}={value}"),
        );
    }
    if out.found.is_empty() && !locked_any {
        out.tried.push(format!(
            "Secret Service: no secret portal item (app_id {} or xdg:schema={PORTAL_SCHEMA})",
            names.portal_app_ids.join("|")
        ));
    }
    out
}

fn service(conn: &Connection) -> Result<Proxy<'static>, String> {
    Proxy::new(
        conn,
        SECRETS,
        "/org/freedesktop/secrets",
        "org.freedesktop.Secret.Service",
    )
    .map_err(|e| e.to_string())
}

/// `SearchItems`: (unlocked, locked) item paths.
fn search(
    conn: &Connection,
    attrs: &HashMap<&str, &str>,
) -> Result<(Vec<OwnedObjectPath>, Vec<OwnedObjectPath>), String> {
    service(conn)?
        .call("SearchItems", &(attrs,))
        .map_err(|e| format!("SearchItems failed: {e}"))
}

fn report_locked(out: &mut Lookup, locked: &[OwnedObjectPath], what: &str) {
    if !locked.is_empty() {
        out.tried.push(format!(
            "Secret Service: {} item(s) {what} are in a locked collection (unlock the keyring, e.g. by logging in to the desktop, and retry)",
            locked.len()
        ));
    }
}

fn item_string_prop(conn: &Connection, path: &OwnedObjectPath, prop: &str) -> Option<String> {
    let p = Proxy::new(conn, SECRETS, path.as_str(), "org.freedesktop.Secret.Item").ok()?;
    p.get_property::<String>(prop).ok()
}

fn item_attributes(conn: &Connection, path: &OwnedObjectPath) -> HashMap<String, String> {
    Proxy::new(conn, SECRETS, path.as_str(), "org.freedesktop.Secret.Item")
        .ok()
        .and_then(|p| p.get_property::<HashMap<String, String>>("Attributes").ok())
        .unwrap_or_default()
}

/// Reads the secrets of unlocked `items` over a `plain` session (the bus is local and
/// private to the user; libsecret's default is the same unless it negotiates DH).
fn fetch(conn: &Connection, items: &[OwnedObjectPath], out: &mut Lookup, what: &str) {
    if items.is_empty() {
        return;
    }
    let svc = match service(conn) {
        Ok(s) => s,
        Err(e) => {
            out.tried.push(format!("Secret Service: {e}"));
            return;
        }
    };
    let session: Result<(OwnedValue, OwnedObjectPath), _> =
        svc.call("OpenSession", &("plain", Value::from("")));
    let session = match session {
        Ok((_, s)) => s,
        Err(e) => {
            out.tried
                .push(format!("Secret Service: OpenSession failed: {e}"));
            return;
        }
    };
    type SecretStruct = (OwnedObjectPath, Vec<u8>, Vec<u8>, String);
    let secrets: Result<HashMap<OwnedObjectPath, SecretStruct>, _> =
        svc.call("GetSecrets", &(items, &session));
    match secrets {
        Ok(map) => {
            // Keep the search's order (most specific first).
            for item in items {
                if let Some((_, _, value, _)) = map.get(item) {
                    let from = match item_string_prop(conn, item, "Label") {
                        Some(label) => format!("Secret Service item {label:?} ({what})"),
                        None => format!("Secret Service {what}"),
                    };
                    out.found.push(Found {
                        from,
                        secret: Zeroizing::new(value.clone()),
                    });
                }
            }
        }
        Err(e) => out
            .tried
            .push(format!("Secret Service: GetSecrets failed: {e}")),
    }
    if let Ok(p) = Proxy::new(
        conn,
        SECRETS,
        session.as_str(),
        "org.freedesktop.Secret.Session",
    ) {
        let _: Result<(), _> = p.call("Close", &());
    }
}

fn secret_service_v11(conn: &Connection, names: &KeyringNames, out: &mut Lookup) {
    let before = out.found.len();
    for app in names.applications {
        let attrs = HashMap::from([("application", *app)]);
        let (items, locked) = match search(conn, &attrs) {
            Ok(r) => r,
            Err(e) => {
                out.tried.push(format!("Secret Service: {e}"));
                return;
            }
        };
        // Chromium's items only (schema v2 before v1), not another program's `application`.
        let mut ours: Vec<(u8, OwnedObjectPath)> = items
            .into_iter()
            .filter_map(|i| {
                let schema = item_attributes(conn, &i)
                    .get("xdg:schema")
                    .cloned()
                    .unwrap_or_default();
                match schema.as_str() {
                    "chrome_libsecret_os_crypt_password_v2" => Some((0, i)),
                    "chrome_libsecret_os_crypt_password_v1" => Some((1, i)),
                    _ => None,
                }
            })
            .collect();
        ours.sort_by_key(|(rank, _)| *rank);
        let ours: Vec<OwnedObjectPath> = ours.into_iter().map(|(_, i)| i).collect();
        report_locked(out, &locked, &format!("application={app}"));
        fetch(conn, &ours, out, &format!("application={app}"));
    }
    if out.found.len() == before {
        // Older or other builds: by label.
        let (items, locked) = match search(conn, &HashMap::new()) {
            Ok(r) => r,
            Err(e) => {
                out.tried.push(format!("Secret Service: {e}"));
                return;
            }
        };
        let labels: Vec<String> = names
            .names
            .iter()
            .map(|n| format!("{n} Safe Storage"))
            .collect();
        let matching: Vec<OwnedObjectPath> = items
            .into_iter()
            .filter(|i| item_string_prop(conn, i, "Label").is_some_and(|l| labels.contains(&l)))
            .collect();
        fetch(conn, &matching, out, "by label");
        if out.found.len() == before {
            let _ = locked;
            out.tried.push(format!(
                "Secret Service: no unlocked item with application={} or label {}",
                names.applications.join("|"),
                labels
                    .iter()
                    .map(|l| format!("{l:?}"))
                    .collect::<Vec<_>>()
                    .join("|")
            ));
        }
    }
}

fn kwallet(conn: &Connection, service: &str, path: &str, names: &KeyringNames, out: &mut Lookup) {
    let p = match Proxy::new(conn, service.to_owned(), path.to_owned(), "org.kde.KWallet") {
        Ok(p) => p,
        Err(e) => {
            out.tried.push(format!("KWallet ({service}): {e}"));
            return;
        }
    };
    let wallet: String = match p.call("networkWallet", &()) {
        Ok(w) => w,
        Err(e) => {
            out.tried
                .push(format!("KWallet ({service}): networkWallet failed: {e}"));
            return;
        }
    };
    let handle: i32 = match p.call("open", &(&wallet, 0i64, APP_ID)) {
        Ok(h) => h,
        Err(e) => {
            out.tried
                .push(format!("KWallet ({service}): open failed: {e}"));
            return;
        }
    };
    if handle < 0 {
        out.tried.push(format!(
            "KWallet ({service}): wallet {wallet:?} did not open (locked or refused)"
        ));
        return;
    }
    let before = out.found.len();
    for n in names.names {
        let folder = format!("{n} Keys");
        let key = format!("{n} Safe Storage");
        let has: bool = p
            .call("hasEntry", &(handle, &folder, &key, APP_ID))
            .unwrap_or(false);
        if !has {
            continue;
        }
        let pw: Result<String, _> = p.call("readPassword", &(handle, &folder, &key, APP_ID));
        if let Ok(pw) = pw {
            out.found.push(Found {
                from: format!("KWallet {wallet:?} folder {folder:?} entry {key:?}"),
                secret: Zeroizing::new(pw.into_bytes()),
            });
        }
    }
    let _: Result<i32, _> = p.call("close", &(handle, false, APP_ID));
    if out.found.len() == before {
        out.tried.push(format!(
            "KWallet ({service}): no entry \"<name> Safe Storage\" in folder \"<name> Keys\" for name {}",
            names.names.join("|")
        ));
    }
}
