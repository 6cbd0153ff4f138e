//! Integration tests of pvault-import: real Chromium profiles (basic password store and a
//! real Secret Service in a private D-Bus session, KWallet through a stand-in), cookie databases written to order for
//! the decryption rules, and every documented failure.

#[path = "import/support.rs"]
mod support;

#[path = "import/chromium.rs"]
mod chromium;
#[path = "import/keyring.rs"]
mod keyring;
#[path = "import/kwallet.rs"]
mod kwallet;
#[path = "import/rules.rs"]
mod rules;
