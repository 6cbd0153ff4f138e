# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_pvault_global_optspecs
    string join \n json socket= no-autostart h/help V/version
end

function __fish_pvault_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_pvault_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_pvault_using_subcommand
    set -l cmd (__fish_pvault_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c pvault -n "__fish_pvault_needs_command" -l socket -d 'The daemon\'s socket [default: $XDG_RUNTIME_DIR/pvault/pvaultd.sock]' -r -F
complete -c pvault -n "__fish_pvault_needs_command" -l json -d 'Print machine-readable JSON on stdout (errors too, as {"error":{"code","message"}})'
complete -c pvault -n "__fish_pvault_needs_command" -l no-autostart -d 'Never start pvaultd; fail with exit code 69 when it does not answer'
complete -c pvault -n "__fish_pvault_needs_command" -s h -l help -d 'Print help'
complete -c pvault -n "__fish_pvault_needs_command" -s V -l version -d 'Print version'
complete -c pvault -n "__fish_pvault_needs_command" -f -a "init" -d 'Create the vault and leave it unlocked'
complete -c pvault -n "__fish_pvault_needs_command" -f -a "unlock" -d 'Unlock the vault'
complete -c pvault -n "__fish_pvault_needs_command" -f -a "lock" -d 'Lock the vault (the daemon forgets the keys)'
complete -c pvault -n "__fish_pvault_needs_command" -f -a "status" -d 'Show the daemon\'s and the vault\'s state'
complete -c pvault -n "__fish_pvault_needs_command" -f -a "passwd" -d 'Change the passphrase (or set the key file)'
complete -c pvault -n "__fish_pvault_needs_command" -f -a "verify" -d 'Authenticate every record of the vault'
complete -c pvault -n "__fish_pvault_needs_command" -f -a "backup" -d 'Write an (encrypted) copy of the vault to FILE'
complete -c pvault -n "__fish_pvault_needs_command" -f -a "daemon" -d 'Start or stop the daemon'
complete -c pvault -n "__fish_pvault_needs_command" -f -a "profile" -d 'Manage profiles and their snapshot history'
complete -c pvault -n "__fish_pvault_needs_command" -f -a "remote" -d 'Share profiles through remote stores on PostgreSQL (end-to-end encrypted)'
complete -c pvault -n "__fish_pvault_needs_command" -f -a "session" -d 'Run browser sessions (Chromium over CDP) with a profile loaded'
complete -c pvault -n "__fish_pvault_needs_command" -f -a "run" -d 'Run CMD with a browser session: PVAULT_CDP_URL and PVAULT_SESSION_ID in its environment; the session ends (saving with --save) when CMD exits, and pvault exits with CMD\'s exit code'
complete -c pvault -n "__fish_pvault_needs_command" -f -a "man" -d 'Write the man pages into DIR (packaging/generate.sh uses it)'
complete -c pvault -n "__fish_pvault_needs_command" -f -a "completions" -d 'Print a shell completion script'
complete -c pvault -n "__fish_pvault_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c pvault -n "__fish_pvault_using_subcommand init" -l passphrase-file -d 'Read the passphrase from F (one trailing newline is stripped; `-` = stdin)' -r -F
complete -c pvault -n "__fish_pvault_using_subcommand init" -l keyfile -d 'Use the raw bytes of key file F (at least 32 bytes)' -r -F
complete -c pvault -n "__fish_pvault_using_subcommand init" -l socket -d 'The daemon\'s socket [default: $XDG_RUNTIME_DIR/pvault/pvaultd.sock]' -r -F
complete -c pvault -n "__fish_pvault_using_subcommand init" -l allow-weak-passphrase -d 'Accept a passphrase that is very easy to guess (refused otherwise; a weak one only gets a warning)'
complete -c pvault -n "__fish_pvault_using_subcommand init" -l json -d 'Print machine-readable JSON on stdout (errors too, as {"error":{"code","message"}})'
complete -c pvault -n "__fish_pvault_using_subcommand init" -l no-autostart -d 'Never start pvaultd; fail with exit code 69 when it does not answer'
complete -c pvault -n "__fish_pvault_using_subcommand init" -s h -l help -d 'Print help'
complete -c pvault -n "__fish_pvault_using_subcommand init" -s V -l version -d 'Print version'
complete -c pvault -n "__fish_pvault_using_subcommand unlock" -l passphrase-file -d 'Read the passphrase from F (one trailing newline is stripped; `-` = stdin)' -r -F
complete -c pvault -n "__fish_pvault_using_subcommand unlock" -l keyfile -d 'Use the raw bytes of key file F (at least 32 bytes)' -r -F
complete -c pvault -n "__fish_pvault_using_subcommand unlock" -l socket -d 'The daemon\'s socket [default: $XDG_RUNTIME_DIR/pvault/pvaultd.sock]' -r -F
complete -c pvault -n "__fish_pvault_using_subcommand unlock" -l json -d 'Print machine-readable JSON on stdout (errors too, as {"error":{"code","message"}})'
complete -c pvault -n "__fish_pvault_using_subcommand unlock" -l no-autostart -d 'Never start pvaultd; fail with exit code 69 when it does not answer'
complete -c pvault -n "__fish_pvault_using_subcommand unlock" -s h -l help -d 'Print help'
complete -c pvault -n "__fish_pvault_using_subcommand unlock" -s V -l version -d 'Print version'
complete -c pvault -n "__fish_pvault_using_subcommand lock" -l socket -d 'The daemon\'s socket [default: $XDG_RUNTIME_DIR/pvault/pvaultd.sock]' -r -F
complete -c pvault -n "__fish_pvault_using_subcommand lock" -l json -d 'Print machine-readable JSON on stdout (errors too, as {"error":{"code","message"}})'
complete -c pvault -n "__fish_pvault_using_subcommand lock" -l no-autostart -d 'Never start pvaultd; fail with exit code 69 when it does not answer'
complete -c pvault -n "__fish_pvault_using_subcommand lock" -s h -l help -d 'Print help'
complete -c pvault -n "__fish_pvault_using_subcommand lock" -s V -l version -d 'Print version'
complete -c pvault -n "__fish_pvault_using_subcommand status" -l socket -d 'The daemon\'s socket [default: $XDG_RUNTIME_DIR/pvault/pvaultd.sock]' -r -F
complete -c pvault -n "__fish_pvault_using_subcommand status" -l json -d 'Print machine-readable JSON on stdout (errors too, as {"error":{"code","message"}})'
complete -c pvault -n "__fish_pvault_using_subcommand status" -l no-autostart -d 'Never start pvaultd; fail with exit code 69 when it does not answer'
complete -c pvault -n "__fish_pvault_using_subcommand status" -s h -l help -d 'Print help'
complete -c pvault -n "__fish_pvault_using_subcommand status" -s V -l version -d 'Print version'
complete -c pvault -n "__fish_pvault_using_subcommand passwd" -l passphrase-file -d 'File holding the current passphrase' -r -F
complete -c pvault -n "__fish_pvault_using_subcommand passwd" -l keyfile -d 'The current key file (instead of the current passphrase)' -r -F
complete -c pvault -n "__fish_pvault_using_subcommand passwd" -l new-passphrase-file -d 'File holding the new passphrase' -r -F
complete -c pvault -n "__fish_pvault_using_subcommand passwd" -l new-keyfile -d 'Add or replace the key-file slot with this key file instead' -r -F
complete -c pvault -n "__fish_pvault_using_subcommand passwd" -l socket -d 'The daemon\'s socket [default: $XDG_RUNTIME_DIR/pvault/pvaultd.sock]' -r -F
complete -c pvault -n "__fish_pvault_using_subcommand passwd" -l allow-weak-passphrase -d 'Accept a new passphrase that is very easy to guess (refused otherwise; a weak one only gets a warning)'
complete -c pvault -n "__fish_pvault_using_subcommand passwd" -l json -d 'Print machine-readable JSON on stdout (errors too, as {"error":{"code","message"}})'
complete -c pvault -n "__fish_pvault_using_subcommand passwd" -l no-autostart -d 'Never start pvaultd; fail with exit code 69 when it does not answer'
complete -c pvault -n "__fish_pvault_using_subcommand passwd" -s h -l help -d 'Print help'
complete -c pvault -n "__fish_pvault_using_subcommand passwd" -s V -l version -d 'Print version'
complete -c pvault -n "__fish_pvault_using_subcommand verify" -l socket -d 'The daemon\'s socket [default: $XDG_RUNTIME_DIR/pvault/pvaultd.sock]' -r -F
complete -c pvault -n "__fish_pvault_using_subcommand verify" -l json -d 'Print machine-readable JSON on stdout (errors too, as {"error":{"code","message"}})'
complete -c pvault -n "__fish_pvault_using_subcommand verify" -l no-autostart -d 'Never start pvaultd; fail with exit code 69 when it does not answer'
complete -c pvault -n "__fish_pvault_using_subcommand verify" -s h -l help -d 'Print help'
complete -c pvault -n "__fish_pvault_using_subcommand verify" -s V -l version -d 'Print version'
complete -c pvault -n "__fish_pvault_using_subcommand backup" -l socket -d 'The daemon\'s socket [default: $XDG_RUNTIME_DIR/pvault/pvaultd.sock]' -r -F
complete -c pvault -n "__fish_pvault_using_subcommand backup" -l json -d 'Print machine-readable JSON on stdout (errors too, as {"error":{"code","message"}})'
complete -c pvault -n "__fish_pvault_using_subcommand backup" -l no-autostart -d 'Never start pvaultd; fail with exit code 69 when it does not answer'
complete -c pvault -n "__fish_pvault_using_subcommand backup" -s h -l help -d 'Print help'
complete -c pvault -n "__fish_pvault_using_subcommand backup" -s V -l version -d 'Print version'
complete -c pvault -n "__fish_pvault_using_subcommand daemon; and not __fish_seen_subcommand_from start stop help" -l socket -d 'The daemon\'s socket [default: $XDG_RUNTIME_DIR/pvault/pvaultd.sock]' -r -F
complete -c pvault -n "__fish_pvault_using_subcommand daemon; and not __fish_seen_subcommand_from start stop help" -l json -d 'Print machine-readable JSON on stdout (errors too, as {"error":{"code","message"}})'
complete -c pvault -n "__fish_pvault_using_subcommand daemon; and not __fish_seen_subcommand_from start stop help" -l no-autostart -d 'Never start pvaultd; fail with exit code 69 when it does not answer'
complete -c pvault -n "__fish_pvault_using_subcommand daemon; and not __fish_seen_subcommand_from start stop help" -s h -l help -d 'Print help'
complete -c pvault -n "__fish_pvault_using_subcommand daemon; and not __fish_seen_subcommand_from start stop help" -s V -l version -d 'Print version'
complete -c pvault -n "__fish_pvault_using_subcommand daemon; and not __fish_seen_subcommand_from start stop help" -f -a "start" -d 'Start pvaultd in the background (no-op if it already answers)'
complete -c pvault -n "__fish_pvault_using_subcommand daemon; and not __fish_seen_subcommand_from start stop help" -f -a "stop" -d 'Ask pvaultd to shut down and wait until it has'
complete -c pvault -n "__fish_pvault_using_subcommand daemon; and not __fish_seen_subcommand_from start stop help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c pvault -n "__fish_pvault_using_subcommand daemon; and __fish_seen_subcommand_from start" -l socket -d 'The daemon\'s socket [default: $XDG_RUNTIME_DIR/pvault/pvaultd.sock]' -r -F
complete -c pvault -n "__fish_pvault_using_subcommand daemon; and __fish_seen_subcommand_from start" -l json -d 'Print machine-readable JSON on stdout (errors too, as {"error":{"code","message"}})'
complete -c pvault -n "__fish_pvault_using_subcommand daemon; and __fish_seen_subcommand_from start" -l no-autostart -d 'Never start pvaultd; fail with exit code 69 when it does not answer'
complete -c pvault -n "__fish_pvault_using_subcommand daemon; and __fish_seen_subcommand_from start" -s h -l help -d 'Print help'
complete -c pvault -n "__fish_pvault_using_subcommand daemon; and __fish_seen_subcommand_from start" -s V -l version -d 'Print version'
complete -c pvault -n "__fish_pvault_using_subcommand daemon; and __fish_seen_subcommand_from stop" -l socket -d 'The daemon\'s socket [default: $XDG_RUNTIME_DIR/pvault/pvaultd.sock]' -r -F
complete -c pvault -n "__fish_pvault_using_subcommand daemon; and __fish_seen_subcommand_from stop" -l json -d 'Print machine-readable JSON on stdout (errors too, as {"error":{"code","message"}})'
complete -c pvault -n "__fish_pvault_using_subcommand daemon; and __fish_seen_subcommand_from stop" -l no-autostart -d 'Never start pvaultd; fail with exit code 69 when it does not answer'
complete -c pvault -n "__fish_pvault_using_subcommand daemon; and __fish_seen_subcommand_from stop" -s h -l help -d 'Print help'
complete -c pvault -n "__fish_pvault_using_subcommand daemon; and __fish_seen_subcommand_from stop" -s V -l version -d 'Print version'
complete -c pvault -n "__fish_pvault_using_subcommand daemon; and __fish_seen_subcommand_from help" -f -a "start" -d 'Start pvaultd in the background (no-op if it already answers)'
complete -c pvault -n "__fish_pvault_using_subcommand daemon; and __fish_seen_subcommand_from help" -f -a "stop" -d 'Ask pvaultd to shut down and wait until it has'
complete -c pvault -n "__fish_pvault_using_subcommand daemon; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c pvault -n "__fish_pvault_using_subcommand profile; and not __fish_seen_subcommand_from create list show rename delete import export history diff restore link pull health check accept help" -l socket -d 'The daemon\'s socket [default: $XDG_RUNTIME_DIR/pvault/pvaultd.sock]' -r -F
complete -c pvault -n "__fish_pvault_using_subcommand profile; and not __fish_seen_subcommand_from create list show rename delete import export history diff restore link pull health check accept help" -l json -d 'Print machine-readable JSON on stdout (errors too, as {"error":{"code","message"}})'
complete -c pvault -n "__fish_pvault_using_subcommand profile; and not __fish_seen_subcommand_from create list show rename delete import export history diff restore link pull health check accept help" -l no-autostart -d 'Never start pvaultd; fail with exit code 69 when it does not answer'
complete -c pvault -n "__fish_pvault_using_subcommand profile; and not __fish_seen_subcommand_from create list show rename delete import export history diff restore link pull health check accept help" -s h -l help -d 'Print help'
complete -c pvault -n "__fish_pvault_using_subcommand profile; and not __fish_seen_subcommand_from create list show rename delete import export history diff restore link pull health check accept help" -s V -l version -d 'Print version'
complete -c pvault -n "__fish_pvault_using_subcommand profile; and not __fish_seen_subcommand_from create list show rename delete import export history diff restore link pull health check accept help" -f -a "create" -d 'Create an empty profile'
complete -c pvault -n "__fish_pvault_using_subcommand profile; and not __fish_seen_subcommand_from create list show rename delete import export history diff restore link pull health check accept help" -f -a "list" -d 'List profiles'
complete -c pvault -n "__fish_pvault_using_subcommand profile; and not __fish_seen_subcommand_from create list show rename delete import export history diff restore link pull health check accept help" -f -a "show" -d 'Show one profile'
complete -c pvault -n "__fish_pvault_using_subcommand profile; and not __fish_seen_subcommand_from create list show rename delete import export history diff restore link pull health check accept help" -f -a "rename" -d 'Rename a profile'
complete -c pvault -n "__fish_pvault_using_subcommand profile; and not __fish_seen_subcommand_from create list show rename delete import export history diff restore link pull health check accept help" -f -a "delete" -d 'Delete a profile and its whole history'
complete -c pvault -n "__fish_pvault_using_subcommand profile; and not __fish_seen_subcommand_from create list show rename delete import export history diff restore link pull health check accept help" -f -a "import" -d 'Append a snapshot from a Playwright storageState file, or from your own browser with --from-browser (creates the profile if missing)'
complete -c pvault -n "__fish_pvault_using_subcommand profile; and not __fish_seen_subcommand_from create list show rename delete import export history diff restore link pull health check accept help" -f -a "export" -d 'Print a snapshot as Playwright storageState JSON (or pvault\'s own, which keeps everything)'
complete -c pvault -n "__fish_pvault_using_subcommand profile; and not __fish_seen_subcommand_from create list show rename delete import export history diff restore link pull health check accept help" -f -a "history" -d 'List a profile\'s snapshots, newest first'
complete -c pvault -n "__fish_pvault_using_subcommand profile; and not __fish_seen_subcommand_from create list show rename delete import export history diff restore link pull health check accept help" -f -a "diff" -d 'Show what changed between two snapshots [default: the two newest]'
complete -c pvault -n "__fish_pvault_using_subcommand profile; and not __fish_seen_subcommand_from create list show rename delete import export history diff restore link pull health check accept help" -f -a "restore" -d 'Append a copy of an older snapshot, making it the newest'
complete -c pvault -n "__fish_pvault_using_subcommand profile; and not __fish_seen_subcommand_from create list show rename delete import export history diff restore link pull health check accept help" -f -a "link" -d 'Push a profile\'s history to a remote and link them: its sessions then load the remote\'s newest snapshot, and --save sessions take the remote\'s lease and push'
complete -c pvault -n "__fish_pvault_using_subcommand profile; and not __fish_seen_subcommand_from create list show rename delete import export history diff restore link pull health check accept help" -f -a "pull" -d 'Copy a profile that exists only on a remote into the vault, linked'
complete -c pvault -n "__fish_pvault_using_subcommand profile; and not __fish_seen_subcommand_from create list show rename delete import export history diff restore link pull health check accept help" -f -a "health" -d 'Define, show or clear the profile\'s login health check'
complete -c pvault -n "__fish_pvault_using_subcommand profile; and not __fish_seen_subcommand_from create list show rename delete import export history diff restore link pull health check accept help" -f -a "check" -d 'Check the profile\'s login now: a headless read-only session of its current snapshot opens the health definition\'s page. Exit 0 healthy, 9 logged out, 8 when the browser or the network failed (a server that is down is not a logout)'
complete -c pvault -n "__fish_pvault_using_subcommand profile; and not __fish_seen_subcommand_from create list show rename delete import export history diff restore link pull health check accept help" -f -a "accept" -d 'Make a snapshot the logout guard marked `logged_out` current, so the next session loads it [default: the newest snapshot]'
complete -c pvault -n "__fish_pvault_using_subcommand profile; and not __fish_seen_subcommand_from create list show rename delete import export history diff restore link pull health check accept help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c pvault -n "__fish_pvault_using_subcommand profile; and __fish_seen_subcommand_from create" -s d -l description -d 'Free-form description' -r
complete -c pvault -n "__fish_pvault_using_subcommand profile; and __fish_seen_subcommand_from create" -l socket -d 'The daemon\'s socket [default: $XDG_RUNTIME_DIR/pvault/pvaultd.sock]' -r -F
complete -c pvault -n "__fish_pvault_using_subcommand profile; and __fish_seen_subcommand_from create" -l json -d 'Print machine-readable JSON on stdout (errors too, as {"error":{"code","message"}})'
complete -c pvault -n "__fish_pvault_using_subcommand profile; and __fish_seen_subcommand_from create" -l no-autostart -d 'Never start pvaultd; fail with exit code 69 when it does not answer'
complete -c pvault -n "__fish_pvault_using_subcommand profile; and __fish_seen_subcommand_from create" -s h -l help -d 'Print help'
complete -c pvault -n "__fish_pvault_using_subcommand profile; and __fish_seen_subcommand_from create" -s V -l version -d 'Print version'
complete -c pvault -n "__fish_pvault_using_subcommand profile; and __fish_seen_subcommand_from list" -l socket -d 'The daemon\'s socket [default: $XDG_RUNTIME_DIR/pvault/pvaultd.sock]' -r -F
complete -c pvault -n "__fish_pvault_using_subcommand profile; and __fish_seen_subcommand_from list" -l json -d 'Print machine-readable JSON on stdout (errors too, as {"error":{"code","message"}})'
complete -c pvault -n "__fish_pvault_using_subcommand profile; and __fish_seen_subcommand_from list" -l no-autostart -d 'Never start pvaultd; fail with exit code 69 when it does not answer'
complete -c pvault -n "__fish_pvault_using_subcommand profile; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c pvault -n "__fish_pvault_using_subcommand profile; and __fish_seen_subcommand_from list" -s V -l version -d 'Print version'
complete -c pvault -n "__fish_pvault_using_subcommand profile; and __fish_seen_subcommand_from show" -l socket -d 'The daemon\'s socket [default: $XDG_RUNTIME_DIR/pvault/pvaultd.sock]' -r -F
complete -c pvault -n "__fish_pvault_using_subcommand profile; and __fish_seen_subcommand_from show" -l json -d 'Print machine-readable JSON on stdout (errors too, as {"error":{"code","message"}})'
complete -c pvault -n "__fish_pvault_using_subcommand profile; and __fish_seen_subcommand_from show" -l no-autostart -d 'Never start pvaultd; fail with exit code 69 when it does not answer'
complete -c pvault -n "__fish_pvault_using_subcommand profile; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help'
complete -c pvault -n "__fish_pvault_using_subcommand profile; and __fish_seen_subcommand_from show" -s V -l version -d 'Print version'
complete -c pvault -n "__fish_pvault_using_subcommand profile; and __fish_seen_subcommand_from rename" -l socket -d 'The daemon\'s socket [default: $XDG_RUNTIME_DIR/pvault/pvaultd.sock]' -r -F
complete -c pvault -n "__fish_pvault_using_subcommand profile; and __fish_seen_subcommand_from rename" -l json -d 'Print machine-readable JSON on stdout (errors too, as {"error":{"code","message"}})'
complete -c pvault -n "__fish_pvault_using_subcommand profile; and __fish_seen_subcommand_from rename" -l no-autostart -d 'Never start pvaultd; fail with exit code 69 when it does not answer'
complete -c pvault -n "__fish_pvault_using_subcommand profile; and __fish_seen_subcommand_from rename" -s h -l help -d 'Print help'
complete -c pvault -n "__fish_pvault_using_subcommand profile; and __fish_seen_subcommand_from rename" -s V -l version -d 'Print version'
complete -c pvault -n "__fish_pvault_using_subcommand profile; and __fish_seen_subcommand_from delete" -l socket -d 'The daemon\'s socket [default: $XDG_RUNTIME_DIR/pvault/pvaultd.sock]' -r -F
complete -c pvault -n "__fish_pvault_using_subcommand profile; and __fish_seen_subcommand_from delete" -l json -d 'Print machine-readable JSON on stdout (errors too, as {"error":{"code","message"}})'
complete -c pvault -n "__fish_pvault_using_subcommand profile; and __fish_seen_subcommand_from delete" -l no-autostart -d 'Never start pvaultd; fail with exit code 69 when it does not answer'
complete -c pvault -n "__fish_pvault_using_subcommand profile; and __fish_seen_subcommand_from delete" -s h -l help -d 'Print help'
complete -c pvault -n "__fish_pvault_using_subcommand profile; and __fish_seen_subcommand_from delete" -s V -l version -d 'Print version'
complete -c pvault -n "__fish_pvault_using_subcommand profile; and __fish_seen_subcommand_from import" -l from-browser -d 'The browser to read (Linux): its user-data-dir is found in the usual places (native, Flatpak, Snap), its cookies decrypted (keyring over D-Bus when needed). It may be running: its files are copied, never written' -r -f -a "chrome\t'Google Chrome'
chromium\t'Chromium'
brave\t'Brave'
edge\t'Microsoft Edge'
vivaldi\t'Vivaldi'"
complete -c pvault -n "__fish_pvault_using_subcommand profile; and __fish_seen_subcommand_from import" -l browser-profile -d 'The browser\'s profile directory (`Default`, `Profile 1`) or the name it shows [default: the only one; several are listed]' -r
complete -c pvault -n "__fish_pvault_using_subcommand profile; and __fish_seen_subcommand_from import" -l user-data-dir -d 'The browser\'s user-data-dir, when not in a usual place' -r -F
complete -c pvault -n "__fish_pvault_using_subcommand profile; and __fish_seen_subcommand_from import" -l domain -d 'Import only this registrable domain (a cookie for .example.com and the origin https://app.example.com belong to example.com); repeatable' -r
complete -c pvault -n "__fish_pvault_using_subcommand profile; and __fish_seen_subcommand_from import" -l exclude-domain -d 'Leave this registrable domain out; repeatable' -r
complete -c pvault -n "__fish_pvault_using_subcommand profile; and __fish_seen_subcommand_from import" -l socket -d 'The daemon\'s socket [default: $XDG_RUNTIME_DIR/pvault/pvaultd.sock]' -r -F
complete -c pvault -n "__fish_pvault_using_subcommand profile; and __fish_seen_subcommand_from import" -l dry-run -d 'Print what would be imported, per domain (counts only), and write nothing'
complete -c pvault -n "__fish_pvault_using_subcommand profile; and __fish_seen_subcommand_from import" -l skip-undecryptable -d 'Import the rest when some cookie values do not decrypt (they are counted), instead of failing'
complete -c pvault -n "__fish_pvault_using_subcommand profile; and __fish_seen_subcommand_from import" -l json -d 'Print machine-readable JSON on stdout (errors too, as {"error":{"code","message"}})'
complete -c pvault -n "__fish_pvault_using_subcommand profile; and __fish_seen_subcommand_from import" -l no-autostart -d 'Never start pvaultd; fail with exit code 69 when it does not answer'
complete -c pvault -n "__fish_pvault_using_subcommand profile; and __fish_seen_subcommand_from import" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c pvault -n "__fish_pvault_using_subcommand profile; and __fish_seen_subcommand_from import" -s V -l version -d 'Print version'
complete -c pvault -n "__fish_pvault_using_subcommand profile; and __fish_seen_subcommand_from export" -l snapshot -d 'Snapshot id or sequence number [default: the newest]' -r
complete -c pvault -n "__fish_pvault_using_subcommand profile; and __fish_seen_subcommand_from export" -l format -d '`playwright`: Playwright\'s storageState; what it cannot hold (sessionStorage, some IndexedDB values and key generator positions) is left out and named on stderr. `pvault`: pvault\'s own JSON with everything; `pvault profile import` reads both' -r -f -a "playwright\t'Playwright\'s storageState'
pvault\t'pvault\'s own JSON (`"pvault": 1`), with everything'"
complete -c pvault -n "__fish_pvault_using_subcommand profile; and __fish_seen_subcommand_from export" -s o -l output -d 'Write to FILE (mode 0600) instead of stdout' -r -F
complete -c pvault -n "__fish_pvault_using_subcommand profile; and __fish_seen_subcommand_from export" -l socket -d 'The daemon\'s socket [default: $XDG_RUNTIME_DIR/pvault/pvaultd.sock]' -r -F
complete -c pvault -n "__fish_pvault_using_subcommand profile; and __fish_seen_subcommand_from export" -l json -d 'Print machine-readable JSON on stdout (errors too, as {"error":{"code","message"}})'
complete -c pvault -n "__fish_pvault_using_subcommand profile; and __fish_seen_subcommand_from export" -l no-autostart -d 'Never start pvaultd; fail with exit code 69 when it does not answer'
complete -c pvault -n "__fish_pvault_using_subcommand profile; and __fish_seen_subcommand_from export" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c pvault -n "__fish_pvault_using_subcommand profile; and __fish_seen_subcommand_from export" -s V -l version -d 'Print version'
complete -c pvault -n "__fish_pvault_using_subcommand profile; and __fish_seen_subcommand_from history" -l socket -d 'The daemon\'s socket [default: $XDG_RUNTIME_DIR/pvault/pvaultd.sock]' -r -F
complete -c pvault -n "__fish_pvault_using_subcommand profile; and __fish_seen_subcommand_from history" -l json -d 'Print machine-readable JSON on stdout (errors too, as {"error":{"code","message"}})'
complete -c pvault -n "__fish_pvault_using_subcommand profile; and __fish_seen_subcommand_from history" -l no-autostart -d 'Never start pvaultd; fail with exit code 69 when it does not answer'
complete -c pvault -n "__fish_pvault_using_subcommand profile; and __fish_seen_subcommand_from history" -s h -l help -d 'Print help'
complete -c pvault -n "__fish_pvault_using_subcommand profile; and __fish_seen_subcommand_from history" -s V -l version -d 'Print version'
complete -c pvault -n "__fish_pvault_using_subcommand profile; and __fish_seen_subcommand_from diff" -l socket -d 'The daemon\'s socket [default: $XDG_RUNTIME_DIR/pvault/pvaultd.sock]' -r -F
complete -c pvault -n "__fish_pvault_using_subcommand profile; and __fish_seen_subcommand_from diff" -l json -d 'Print machine-readable JSON on stdout (errors too, as {"error":{"code","message"}})'
complete -c pvault -n "__fish_pvault_using_subcommand profile; and __fish_seen_subcommand_from diff" -l no-autostart -d 'Never start pvaultd; fail with exit code 69 when it does not answer'
complete -c pvault -n "__fish_pvault_using_subcommand profile; and __fish_seen_subcommand_from diff" -s h -l help -d 'Print help'
complete -c pvault -n "__fish_pvault_using_subcommand profile; and __fish_seen_subcommand_from diff" -s V -l version -d 'Print version'
complete -c pvault -n "__fish_pvault_using_subcommand profile; and __fish_seen_subcommand_from restore" -l socket -d 'The daemon\'s socket [default: $XDG_RUNTIME_DIR/pvault/pvaultd.sock]' -r -F
complete -c pvault -n "__fish_pvault_using_subcommand profile; and __fish_seen_subcommand_from restore" -l json -d 'Print machine-readable JSON on stdout (errors too, as {"error":{"code","message"}})'
complete -c pvault -n "__fish_pvault_using_subcommand profile; and __fish_seen_subcommand_from restore" -l no-autostart -d 'Never start pvaultd; fail with exit code 69 when it does not answer'
complete -c pvault -n "__fish_pvault_using_subcommand profile; and __fish_seen_subcommand_from restore" -s h -l help -d 'Print help'
complete -c pvault -n "__fish_pvault_using_subcommand profile; and __fish_seen_subcommand_from restore" -s V -l version -d 'Print version'
complete -c pvault -n "__fish_pvault_using_subcommand profile; and __fish_seen_subcommand_from link" -l remote -d 'Remote name' -r
complete -c pvault -n "__fish_pvault_using_subcommand profile; and __fish_seen_subcommand_from link" -l socket -d 'The daemon\'s socket [default: $XDG_RUNTIME_DIR/pvault/pvaultd.sock]' -r -F
complete -c pvault -n "__fish_pvault_using_subcommand profile; and __fish_seen_subcommand_from link" -l json -d 'Print machine-readable JSON on stdout (errors too, as {"error":{"code","message"}})'
complete -c pvault -n "__fish_pvault_using_subcommand profile; and __fish_seen_subcommand_from link" -l no-autostart -d 'Never start pvaultd; fail with exit code 69 when it does not answer'
complete -c pvault -n "__fish_pvault_using_subcommand profile; and __fish_seen_subcommand_from link" -s h -l help -d 'Print help'
complete -c pvault -n "__fish_pvault_using_subcommand profile; and __fish_seen_subcommand_from link" -s V -l version -d 'Print version'
complete -c pvault -n "__fish_pvault_using_subcommand profile; and __fish_seen_subcommand_from pull" -l remote -d 'Remote name' -r
complete -c pvault -n "__fish_pvault_using_subcommand profile; and __fish_seen_subcommand_from pull" -l socket -d 'The daemon\'s socket [default: $XDG_RUNTIME_DIR/pvault/pvaultd.sock]' -r -F
complete -c pvault -n "__fish_pvault_using_subcommand profile; and __fish_seen_subcommand_from pull" -l json -d 'Print machine-readable JSON on stdout (errors too, as {"error":{"code","message"}})'
complete -c pvault -n "__fish_pvault_using_subcommand profile; and __fish_seen_subcommand_from pull" -l no-autostart -d 'Never start pvaultd; fail with exit code 69 when it does not answer'
complete -c pvault -n "__fish_pvault_using_subcommand profile; and __fish_seen_subcommand_from pull" -s h -l help -d 'Print help'
complete -c pvault -n "__fish_pvault_using_subcommand profile; and __fish_seen_subcommand_from pull" -s V -l version -d 'Print version'
complete -c pvault -n "__fish_pvault_using_subcommand profile; and __fish_seen_subcommand_from health" -l socket -d 'The daemon\'s socket [default: $XDG_RUNTIME_DIR/pvault/pvaultd.sock]' -r -F
complete -c pvault -n "__fish_pvault_using_subcommand profile; and __fish_seen_subcommand_from health" -l json -d 'Print machine-readable JSON on stdout (errors too, as {"error":{"code","message"}})'
complete -c pvault -n "__fish_pvault_using_subcommand profile; and __fish_seen_subcommand_from health" -l no-autostart -d 'Never start pvaultd; fail with exit code 69 when it does not answer'
complete -c pvault -n "__fish_pvault_using_subcommand profile; and __fish_seen_subcommand_from health" -s h -l help -d 'Print help'
complete -c pvault -n "__fish_pvault_using_subcommand profile; and __fish_seen_subcommand_from health" -s V -l version -d 'Print version'
complete -c pvault -n "__fish_pvault_using_subcommand profile; and __fish_seen_subcommand_from health" -f -a "set" -d 'Define what the profile\'s login looks like: a page and expectations that must all hold (at least one). Replaces any definition and forgets the last result'
complete -c pvault -n "__fish_pvault_using_subcommand profile; and __fish_seen_subcommand_from health" -f -a "show" -d 'Show the definition, the last check\'s result and cookies about to expire'
complete -c pvault -n "__fish_pvault_using_subcommand profile; and __fish_seen_subcommand_from health" -f -a "clear" -d 'Remove the definition (the logout guard is then off for the profile)'
complete -c pvault -n "__fish_pvault_using_subcommand profile; and __fish_seen_subcommand_from health" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c pvault -n "__fish_pvault_using_subcommand profile; and __fish_seen_subcommand_from check" -l timeout -d 'Wait up to SECS for the page and its selectors (1 to 300) [default: 30]' -r
complete -c pvault -n "__fish_pvault_using_subcommand profile; and __fish_seen_subcommand_from check" -l socket -d 'The daemon\'s socket [default: $XDG_RUNTIME_DIR/pvault/pvaultd.sock]' -r -F
complete -c pvault -n "__fish_pvault_using_subcommand profile; and __fish_seen_subcommand_from check" -l json -d 'Print machine-readable JSON on stdout (errors too, as {"error":{"code","message"}})'
complete -c pvault -n "__fish_pvault_using_subcommand profile; and __fish_seen_subcommand_from check" -l no-autostart -d 'Never start pvaultd; fail with exit code 69 when it does not answer'
complete -c pvault -n "__fish_pvault_using_subcommand profile; and __fish_seen_subcommand_from check" -s h -l help -d 'Print help'
complete -c pvault -n "__fish_pvault_using_subcommand profile; and __fish_seen_subcommand_from check" -s V -l version -d 'Print version'
complete -c pvault -n "__fish_pvault_using_subcommand profile; and __fish_seen_subcommand_from accept" -l socket -d 'The daemon\'s socket [default: $XDG_RUNTIME_DIR/pvault/pvaultd.sock]' -r -F
complete -c pvault -n "__fish_pvault_using_subcommand profile; and __fish_seen_subcommand_from accept" -l json -d 'Print machine-readable JSON on stdout (errors too, as {"error":{"code","message"}})'
complete -c pvault -n "__fish_pvault_using_subcommand profile; and __fish_seen_subcommand_from accept" -l no-autostart -d 'Never start pvaultd; fail with exit code 69 when it does not answer'
complete -c pvault -n "__fish_pvault_using_subcommand profile; and __fish_seen_subcommand_from accept" -s h -l help -d 'Print help'
complete -c pvault -n "__fish_pvault_using_subcommand profile; and __fish_seen_subcommand_from accept" -s V -l version -d 'Print version'
complete -c pvault -n "__fish_pvault_using_subcommand profile; and __fish_seen_subcommand_from help" -f -a "create" -d 'Create an empty profile'
complete -c pvault -n "__fish_pvault_using_subcommand profile; and __fish_seen_subcommand_from help" -f -a "list" -d 'List profiles'
complete -c pvault -n "__fish_pvault_using_subcommand profile; and __fish_seen_subcommand_from help" -f -a "show" -d 'Show one profile'
complete -c pvault -n "__fish_pvault_using_subcommand profile; and __fish_seen_subcommand_from help" -f -a "rename" -d 'Rename a profile'
complete -c pvault -n "__fish_pvault_using_subcommand profile; and __fish_seen_subcommand_from help" -f -a "delete" -d 'Delete a profile and its whole history'
complete -c pvault -n "__fish_pvault_using_subcommand profile; and __fish_seen_subcommand_from help" -f -a "import" -d 'Append a snapshot from a Playwright storageState file, or from your own browser with --from-browser (creates the profile if missing)'
complete -c pvault -n "__fish_pvault_using_subcommand profile; and __fish_seen_subcommand_from help" -f -a "export" -d 'Print a snapshot as Playwright storageState JSON (or pvault\'s own, which keeps everything)'
complete -c pvault -n "__fish_pvault_using_subcommand profile; and __fish_seen_subcommand_from help" -f -a "history" -d 'List a profile\'s snapshots, newest first'
complete -c pvault -n "__fish_pvault_using_subcommand profile; and __fish_seen_subcommand_from help" -f -a "diff" -d 'Show what changed between two snapshots [default: the two newest]'
complete -c pvault -n "__fish_pvault_using_subcommand profile; and __fish_seen_subcommand_from help" -f -a "restore" -d 'Append a copy of an older snapshot, making it the newest'
complete -c pvault -n "__fish_pvault_using_subcommand profile; and __fish_seen_subcommand_from help" -f -a "link" -d 'Push a profile\'s history to a remote and link them: its sessions then load the remote\'s newest snapshot, and --save sessions take the remote\'s lease and push'
complete -c pvault -n "__fish_pvault_using_subcommand profile; and __fish_seen_subcommand_from help" -f -a "pull" -d 'Copy a profile that exists only on a remote into the vault, linked'
complete -c pvault -n "__fish_pvault_using_subcommand profile; and __fish_seen_subcommand_from help" -f -a "health" -d 'Define, show or clear the profile\'s login health check'
complete -c pvault -n "__fish_pvault_using_subcommand profile; and __fish_seen_subcommand_from help" -f -a "check" -d 'Check the profile\'s login now: a headless read-only session of its current snapshot opens the health definition\'s page. Exit 0 healthy, 9 logged out, 8 when the browser or the network failed (a server that is down is not a logout)'
complete -c pvault -n "__fish_pvault_using_subcommand profile; and __fish_seen_subcommand_from help" -f -a "accept" -d 'Make a snapshot the logout guard marked `logged_out` current, so the next session loads it [default: the newest snapshot]'
complete -c pvault -n "__fish_pvault_using_subcommand profile; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c pvault -n "__fish_pvault_using_subcommand remote; and not __fish_seen_subcommand_from add list remove status export-key help" -l socket -d 'The daemon\'s socket [default: $XDG_RUNTIME_DIR/pvault/pvaultd.sock]' -r -F
complete -c pvault -n "__fish_pvault_using_subcommand remote; and not __fish_seen_subcommand_from add list remove status export-key help" -l json -d 'Print machine-readable JSON on stdout (errors too, as {"error":{"code","message"}})'
complete -c pvault -n "__fish_pvault_using_subcommand remote; and not __fish_seen_subcommand_from add list remove status export-key help" -l no-autostart -d 'Never start pvaultd; fail with exit code 69 when it does not answer'
complete -c pvault -n "__fish_pvault_using_subcommand remote; and not __fish_seen_subcommand_from add list remove status export-key help" -s h -l help -d 'Print help'
complete -c pvault -n "__fish_pvault_using_subcommand remote; and not __fish_seen_subcommand_from add list remove status export-key help" -s V -l version -d 'Print version'
complete -c pvault -n "__fish_pvault_using_subcommand remote; and not __fish_seen_subcommand_from add list remove status export-key help" -f -a "add" -d 'Add a remote store (a postgres:// URL without a password). An empty database becomes a new store with a new team key; an existing store needs --key-file'
complete -c pvault -n "__fish_pvault_using_subcommand remote; and not __fish_seen_subcommand_from add list remove status export-key help" -f -a "list" -d 'List remotes'
complete -c pvault -n "__fish_pvault_using_subcommand remote; and not __fish_seen_subcommand_from add list remove status export-key help" -f -a "remove" -d 'Forget a remote and its links (local profiles and the store stay)'
complete -c pvault -n "__fish_pvault_using_subcommand remote; and not __fish_seen_subcommand_from add list remove status export-key help" -f -a "status" -d 'Reachability, schema version, leases held and saves waiting to be pushed'
complete -c pvault -n "__fish_pvault_using_subcommand remote; and not __fish_seen_subcommand_from add list remove status export-key help" -f -a "export-key" -d 'Write the team key, sealed with a passphrase or key file, to FILE (0600), for `remote add … --key-file FILE` on another machine'
complete -c pvault -n "__fish_pvault_using_subcommand remote; and not __fish_seen_subcommand_from add list remove status export-key help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c pvault -n "__fish_pvault_using_subcommand remote; and __fish_seen_subcommand_from add" -l key-file -d 'Join an existing store with its exported team key' -r -F
complete -c pvault -n "__fish_pvault_using_subcommand remote; and __fish_seen_subcommand_from add" -l passphrase-file -d 'Read the passphrase from F (one trailing newline is stripped; `-` = stdin)' -r -F
complete -c pvault -n "__fish_pvault_using_subcommand remote; and __fish_seen_subcommand_from add" -l keyfile -d 'Use the raw bytes of key file F (at least 32 bytes)' -r -F
complete -c pvault -n "__fish_pvault_using_subcommand remote; and __fish_seen_subcommand_from add" -l lease-ttl -d 'Lease time of --save sessions, seconds (5 to 3600) [default: 60]' -r
complete -c pvault -n "__fish_pvault_using_subcommand remote; and __fish_seen_subcommand_from add" -l socket -d 'The daemon\'s socket [default: $XDG_RUNTIME_DIR/pvault/pvaultd.sock]' -r -F
complete -c pvault -n "__fish_pvault_using_subcommand remote; and __fish_seen_subcommand_from add" -l json -d 'Print machine-readable JSON on stdout (errors too, as {"error":{"code","message"}})'
complete -c pvault -n "__fish_pvault_using_subcommand remote; and __fish_seen_subcommand_from add" -l no-autostart -d 'Never start pvaultd; fail with exit code 69 when it does not answer'
complete -c pvault -n "__fish_pvault_using_subcommand remote; and __fish_seen_subcommand_from add" -s h -l help -d 'Print help'
complete -c pvault -n "__fish_pvault_using_subcommand remote; and __fish_seen_subcommand_from add" -s V -l version -d 'Print version'
complete -c pvault -n "__fish_pvault_using_subcommand remote; and __fish_seen_subcommand_from list" -l socket -d 'The daemon\'s socket [default: $XDG_RUNTIME_DIR/pvault/pvaultd.sock]' -r -F
complete -c pvault -n "__fish_pvault_using_subcommand remote; and __fish_seen_subcommand_from list" -l json -d 'Print machine-readable JSON on stdout (errors too, as {"error":{"code","message"}})'
complete -c pvault -n "__fish_pvault_using_subcommand remote; and __fish_seen_subcommand_from list" -l no-autostart -d 'Never start pvaultd; fail with exit code 69 when it does not answer'
complete -c pvault -n "__fish_pvault_using_subcommand remote; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c pvault -n "__fish_pvault_using_subcommand remote; and __fish_seen_subcommand_from list" -s V -l version -d 'Print version'
complete -c pvault -n "__fish_pvault_using_subcommand remote; and __fish_seen_subcommand_from remove" -l socket -d 'The daemon\'s socket [default: $XDG_RUNTIME_DIR/pvault/pvaultd.sock]' -r -F
complete -c pvault -n "__fish_pvault_using_subcommand remote; and __fish_seen_subcommand_from remove" -l force -d 'Also when local saves wait to be pushed (they stay in the local history)'
complete -c pvault -n "__fish_pvault_using_subcommand remote; and __fish_seen_subcommand_from remove" -l json -d 'Print machine-readable JSON on stdout (errors too, as {"error":{"code","message"}})'
complete -c pvault -n "__fish_pvault_using_subcommand remote; and __fish_seen_subcommand_from remove" -l no-autostart -d 'Never start pvaultd; fail with exit code 69 when it does not answer'
complete -c pvault -n "__fish_pvault_using_subcommand remote; and __fish_seen_subcommand_from remove" -s h -l help -d 'Print help'
complete -c pvault -n "__fish_pvault_using_subcommand remote; and __fish_seen_subcommand_from remove" -s V -l version -d 'Print version'
complete -c pvault -n "__fish_pvault_using_subcommand remote; and __fish_seen_subcommand_from status" -l socket -d 'The daemon\'s socket [default: $XDG_RUNTIME_DIR/pvault/pvaultd.sock]' -r -F
complete -c pvault -n "__fish_pvault_using_subcommand remote; and __fish_seen_subcommand_from status" -l json -d 'Print machine-readable JSON on stdout (errors too, as {"error":{"code","message"}})'
complete -c pvault -n "__fish_pvault_using_subcommand remote; and __fish_seen_subcommand_from status" -l no-autostart -d 'Never start pvaultd; fail with exit code 69 when it does not answer'
complete -c pvault -n "__fish_pvault_using_subcommand remote; and __fish_seen_subcommand_from status" -s h -l help -d 'Print help'
complete -c pvault -n "__fish_pvault_using_subcommand remote; and __fish_seen_subcommand_from status" -s V -l version -d 'Print version'
complete -c pvault -n "__fish_pvault_using_subcommand remote; and __fish_seen_subcommand_from export-key" -s o -l output -d 'Destination file' -r -F
complete -c pvault -n "__fish_pvault_using_subcommand remote; and __fish_seen_subcommand_from export-key" -l passphrase-file -d 'Read the passphrase from F (one trailing newline is stripped; `-` = stdin)' -r -F
complete -c pvault -n "__fish_pvault_using_subcommand remote; and __fish_seen_subcommand_from export-key" -l keyfile -d 'Use the raw bytes of key file F (at least 32 bytes)' -r -F
complete -c pvault -n "__fish_pvault_using_subcommand remote; and __fish_seen_subcommand_from export-key" -l socket -d 'The daemon\'s socket [default: $XDG_RUNTIME_DIR/pvault/pvaultd.sock]' -r -F
complete -c pvault -n "__fish_pvault_using_subcommand remote; and __fish_seen_subcommand_from export-key" -l json -d 'Print machine-readable JSON on stdout (errors too, as {"error":{"code","message"}})'
complete -c pvault -n "__fish_pvault_using_subcommand remote; and __fish_seen_subcommand_from export-key" -l no-autostart -d 'Never start pvaultd; fail with exit code 69 when it does not answer'
complete -c pvault -n "__fish_pvault_using_subcommand remote; and __fish_seen_subcommand_from export-key" -s h -l help -d 'Print help'
complete -c pvault -n "__fish_pvault_using_subcommand remote; and __fish_seen_subcommand_from export-key" -s V -l version -d 'Print version'
complete -c pvault -n "__fish_pvault_using_subcommand remote; and __fish_seen_subcommand_from help" -f -a "add" -d 'Add a remote store (a postgres:// URL without a password). An empty database becomes a new store with a new team key; an existing store needs --key-file'
complete -c pvault -n "__fish_pvault_using_subcommand remote; and __fish_seen_subcommand_from help" -f -a "list" -d 'List remotes'
complete -c pvault -n "__fish_pvault_using_subcommand remote; and __fish_seen_subcommand_from help" -f -a "remove" -d 'Forget a remote and its links (local profiles and the store stay)'
complete -c pvault -n "__fish_pvault_using_subcommand remote; and __fish_seen_subcommand_from help" -f -a "status" -d 'Reachability, schema version, leases held and saves waiting to be pushed'
complete -c pvault -n "__fish_pvault_using_subcommand remote; and __fish_seen_subcommand_from help" -f -a "export-key" -d 'Write the team key, sealed with a passphrase or key file, to FILE (0600), for `remote add … --key-file FILE` on another machine'
complete -c pvault -n "__fish_pvault_using_subcommand remote; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c pvault -n "__fish_pvault_using_subcommand session; and not __fish_seen_subcommand_from start list show stop capture load attach help" -l socket -d 'The daemon\'s socket [default: $XDG_RUNTIME_DIR/pvault/pvaultd.sock]' -r -F
complete -c pvault -n "__fish_pvault_using_subcommand session; and not __fish_seen_subcommand_from start list show stop capture load attach help" -l json -d 'Print machine-readable JSON on stdout (errors too, as {"error":{"code","message"}})'
complete -c pvault -n "__fish_pvault_using_subcommand session; and not __fish_seen_subcommand_from start list show stop capture load attach help" -l no-autostart -d 'Never start pvaultd; fail with exit code 69 when it does not answer'
complete -c pvault -n "__fish_pvault_using_subcommand session; and not __fish_seen_subcommand_from start list show stop capture load attach help" -s h -l help -d 'Print help'
complete -c pvault -n "__fish_pvault_using_subcommand session; and not __fish_seen_subcommand_from start list show stop capture load attach help" -s V -l version -d 'Print version'
complete -c pvault -n "__fish_pvault_using_subcommand session; and not __fish_seen_subcommand_from start list show stop capture load attach help" -f -a "start" -d 'Launch Chromium (with a profile loaded, if given) and print its CDP URL'
complete -c pvault -n "__fish_pvault_using_subcommand session; and not __fish_seen_subcommand_from start list show stop capture load attach help" -f -a "list" -d 'List running sessions'
complete -c pvault -n "__fish_pvault_using_subcommand session; and not __fish_seen_subcommand_from start list show stop capture load attach help" -f -a "show" -d 'Show one session'
complete -c pvault -n "__fish_pvault_using_subcommand session; and not __fish_seen_subcommand_from start list show stop capture load attach help" -f -a "stop" -d 'End a session; a `--save` session first captures its state into its profile'
complete -c pvault -n "__fish_pvault_using_subcommand session; and not __fish_seen_subcommand_from start list show stop capture load attach help" -f -a "capture" -d 'Snapshot a running session into a profile (created if missing) without disturbing it'
complete -c pvault -n "__fish_pvault_using_subcommand session; and not __fish_seen_subcommand_from start list show stop capture load attach help" -f -a "load" -d 'Load a profile into a running session that has none yet'
complete -c pvault -n "__fish_pvault_using_subcommand session; and not __fish_seen_subcommand_from start list show stop capture load attach help" -f -a "attach" -d 'Register a Chromium started with --remote-debugging-port as a session (stopping it detaches and leaves the browser running)'
complete -c pvault -n "__fish_pvault_using_subcommand session; and not __fish_seen_subcommand_from start list show stop capture load attach help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c pvault -n "__fish_pvault_using_subcommand session; and __fish_seen_subcommand_from start" -l profile -d 'Profile to load [default: an empty browser]' -r
complete -c pvault -n "__fish_pvault_using_subcommand session; and __fish_seen_subcommand_from start" -l start-url -d 'First page to open' -r
complete -c pvault -n "__fish_pvault_using_subcommand session; and __fish_seen_subcommand_from start" -l viewport -d 'Window size in CSS pixels, e.g. 1280x720' -r
complete -c pvault -n "__fish_pvault_using_subcommand session; and __fish_seen_subcommand_from start" -l proxy -d 'Proxy server, e.g. socks5://127.0.0.1:1080' -r
complete -c pvault -n "__fish_pvault_using_subcommand session; and __fish_seen_subcommand_from start" -l user-agent -d 'User-Agent override' -r
complete -c pvault -n "__fish_pvault_using_subcommand session; and __fish_seen_subcommand_from start" -l locale -d 'Browser locale, e.g. en-US' -r
complete -c pvault -n "__fish_pvault_using_subcommand session; and __fish_seen_subcommand_from start" -l extension -d 'Load an unpacked extension from DIR (repeatable)' -r -F
complete -c pvault -n "__fish_pvault_using_subcommand session; and __fish_seen_subcommand_from start" -l timeout -d 'Inactivity timeout: end the session (saving it if --save) once no CDP client has been connected through its relay for SECS seconds, 10 to 259200 [default: the config\'s `[session] timeout_secs`, 300; --headful and --kiosk sessions time out only when this is given]' -r
complete -c pvault -n "__fish_pvault_using_subcommand session; and __fish_seen_subcommand_from start" -l socket -d 'The daemon\'s socket [default: $XDG_RUNTIME_DIR/pvault/pvaultd.sock]' -r -F
complete -c pvault -n "__fish_pvault_using_subcommand session; and __fish_seen_subcommand_from start" -l save -d 'Save the final state into the profile when the session ends (one such session per profile at a time)'
complete -c pvault -n "__fish_pvault_using_subcommand session; and __fish_seen_subcommand_from start" -l headful -d 'Show a browser window (needs a display)'
complete -c pvault -n "__fish_pvault_using_subcommand session; and __fish_seen_subcommand_from start" -l kiosk -d 'Full-screen kiosk window (implies --headful)'
complete -c pvault -n "__fish_pvault_using_subcommand session; and __fish_seen_subcommand_from start" -l accept-logout -d 'Turn the logout guard off for this session: what it saves becomes current even if it looks logged out (you log out or switch accounts on purpose)'
complete -c pvault -n "__fish_pvault_using_subcommand session; and __fish_seen_subcommand_from start" -l json -d 'Print machine-readable JSON on stdout (errors too, as {"error":{"code","message"}})'
complete -c pvault -n "__fish_pvault_using_subcommand session; and __fish_seen_subcommand_from start" -l no-autostart -d 'Never start pvaultd; fail with exit code 69 when it does not answer'
complete -c pvault -n "__fish_pvault_using_subcommand session; and __fish_seen_subcommand_from start" -s h -l help -d 'Print help'
complete -c pvault -n "__fish_pvault_using_subcommand session; and __fish_seen_subcommand_from start" -s V -l version -d 'Print version'
complete -c pvault -n "__fish_pvault_using_subcommand session; and __fish_seen_subcommand_from list" -l socket -d 'The daemon\'s socket [default: $XDG_RUNTIME_DIR/pvault/pvaultd.sock]' -r -F
complete -c pvault -n "__fish_pvault_using_subcommand session; and __fish_seen_subcommand_from list" -l json -d 'Print machine-readable JSON on stdout (errors too, as {"error":{"code","message"}})'
complete -c pvault -n "__fish_pvault_using_subcommand session; and __fish_seen_subcommand_from list" -l no-autostart -d 'Never start pvaultd; fail with exit code 69 when it does not answer'
complete -c pvault -n "__fish_pvault_using_subcommand session; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c pvault -n "__fish_pvault_using_subcommand session; and __fish_seen_subcommand_from list" -s V -l version -d 'Print version'
complete -c pvault -n "__fish_pvault_using_subcommand session; and __fish_seen_subcommand_from show" -l socket -d 'The daemon\'s socket [default: $XDG_RUNTIME_DIR/pvault/pvaultd.sock]' -r -F
complete -c pvault -n "__fish_pvault_using_subcommand session; and __fish_seen_subcommand_from show" -l json -d 'Print machine-readable JSON on stdout (errors too, as {"error":{"code","message"}})'
complete -c pvault -n "__fish_pvault_using_subcommand session; and __fish_seen_subcommand_from show" -l no-autostart -d 'Never start pvaultd; fail with exit code 69 when it does not answer'
complete -c pvault -n "__fish_pvault_using_subcommand session; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help'
complete -c pvault -n "__fish_pvault_using_subcommand session; and __fish_seen_subcommand_from show" -s V -l version -d 'Print version'
complete -c pvault -n "__fish_pvault_using_subcommand session; and __fish_seen_subcommand_from stop" -l socket -d 'The daemon\'s socket [default: $XDG_RUNTIME_DIR/pvault/pvaultd.sock]' -r -F
complete -c pvault -n "__fish_pvault_using_subcommand session; and __fish_seen_subcommand_from stop" -l discard -d 'End without saving, even if the session was started with `--save`'
complete -c pvault -n "__fish_pvault_using_subcommand session; and __fish_seen_subcommand_from stop" -l json -d 'Print machine-readable JSON on stdout (errors too, as {"error":{"code","message"}})'
complete -c pvault -n "__fish_pvault_using_subcommand session; and __fish_seen_subcommand_from stop" -l no-autostart -d 'Never start pvaultd; fail with exit code 69 when it does not answer'
complete -c pvault -n "__fish_pvault_using_subcommand session; and __fish_seen_subcommand_from stop" -s h -l help -d 'Print help'
complete -c pvault -n "__fish_pvault_using_subcommand session; and __fish_seen_subcommand_from stop" -s V -l version -d 'Print version'
complete -c pvault -n "__fish_pvault_using_subcommand session; and __fish_seen_subcommand_from capture" -l into -d 'Profile to append the snapshot to' -r
complete -c pvault -n "__fish_pvault_using_subcommand session; and __fish_seen_subcommand_from capture" -l socket -d 'The daemon\'s socket [default: $XDG_RUNTIME_DIR/pvault/pvaultd.sock]' -r -F
complete -c pvault -n "__fish_pvault_using_subcommand session; and __fish_seen_subcommand_from capture" -l json -d 'Print machine-readable JSON on stdout (errors too, as {"error":{"code","message"}})'
complete -c pvault -n "__fish_pvault_using_subcommand session; and __fish_seen_subcommand_from capture" -l no-autostart -d 'Never start pvaultd; fail with exit code 69 when it does not answer'
complete -c pvault -n "__fish_pvault_using_subcommand session; and __fish_seen_subcommand_from capture" -s h -l help -d 'Print help'
complete -c pvault -n "__fish_pvault_using_subcommand session; and __fish_seen_subcommand_from capture" -s V -l version -d 'Print version'
complete -c pvault -n "__fish_pvault_using_subcommand session; and __fish_seen_subcommand_from load" -l profile -d 'Profile to load' -r
complete -c pvault -n "__fish_pvault_using_subcommand session; and __fish_seen_subcommand_from load" -l socket -d 'The daemon\'s socket [default: $XDG_RUNTIME_DIR/pvault/pvaultd.sock]' -r -F
complete -c pvault -n "__fish_pvault_using_subcommand session; and __fish_seen_subcommand_from load" -l json -d 'Print machine-readable JSON on stdout (errors too, as {"error":{"code","message"}})'
complete -c pvault -n "__fish_pvault_using_subcommand session; and __fish_seen_subcommand_from load" -l no-autostart -d 'Never start pvaultd; fail with exit code 69 when it does not answer'
complete -c pvault -n "__fish_pvault_using_subcommand session; and __fish_seen_subcommand_from load" -s h -l help -d 'Print help'
complete -c pvault -n "__fish_pvault_using_subcommand session; and __fish_seen_subcommand_from load" -s V -l version -d 'Print version'
complete -c pvault -n "__fish_pvault_using_subcommand session; and __fish_seen_subcommand_from attach" -l cdp -d '`http://127.0.0.1:PORT` or the browser\'s `ws://…/devtools/browser/…` URL' -r
complete -c pvault -n "__fish_pvault_using_subcommand session; and __fish_seen_subcommand_from attach" -l socket -d 'The daemon\'s socket [default: $XDG_RUNTIME_DIR/pvault/pvaultd.sock]' -r -F
complete -c pvault -n "__fish_pvault_using_subcommand session; and __fish_seen_subcommand_from attach" -l json -d 'Print machine-readable JSON on stdout (errors too, as {"error":{"code","message"}})'
complete -c pvault -n "__fish_pvault_using_subcommand session; and __fish_seen_subcommand_from attach" -l no-autostart -d 'Never start pvaultd; fail with exit code 69 when it does not answer'
complete -c pvault -n "__fish_pvault_using_subcommand session; and __fish_seen_subcommand_from attach" -s h -l help -d 'Print help'
complete -c pvault -n "__fish_pvault_using_subcommand session; and __fish_seen_subcommand_from attach" -s V -l version -d 'Print version'
complete -c pvault -n "__fish_pvault_using_subcommand session; and __fish_seen_subcommand_from help" -f -a "start" -d 'Launch Chromium (with a profile loaded, if given) and print its CDP URL'
complete -c pvault -n "__fish_pvault_using_subcommand session; and __fish_seen_subcommand_from help" -f -a "list" -d 'List running sessions'
complete -c pvault -n "__fish_pvault_using_subcommand session; and __fish_seen_subcommand_from help" -f -a "show" -d 'Show one session'
complete -c pvault -n "__fish_pvault_using_subcommand session; and __fish_seen_subcommand_from help" -f -a "stop" -d 'End a session; a `--save` session first captures its state into its profile'
complete -c pvault -n "__fish_pvault_using_subcommand session; and __fish_seen_subcommand_from help" -f -a "capture" -d 'Snapshot a running session into a profile (created if missing) without disturbing it'
complete -c pvault -n "__fish_pvault_using_subcommand session; and __fish_seen_subcommand_from help" -f -a "load" -d 'Load a profile into a running session that has none yet'
complete -c pvault -n "__fish_pvault_using_subcommand session; and __fish_seen_subcommand_from help" -f -a "attach" -d 'Register a Chromium started with --remote-debugging-port as a session (stopping it detaches and leaves the browser running)'
complete -c pvault -n "__fish_pvault_using_subcommand session; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c pvault -n "__fish_pvault_using_subcommand run" -l profile -d 'Profile to load [default: an empty browser]' -r
complete -c pvault -n "__fish_pvault_using_subcommand run" -l start-url -d 'First page to open' -r
complete -c pvault -n "__fish_pvault_using_subcommand run" -l viewport -d 'Window size in CSS pixels, e.g. 1280x720' -r
complete -c pvault -n "__fish_pvault_using_subcommand run" -l proxy -d 'Proxy server, e.g. socks5://127.0.0.1:1080' -r
complete -c pvault -n "__fish_pvault_using_subcommand run" -l user-agent -d 'User-Agent override' -r
complete -c pvault -n "__fish_pvault_using_subcommand run" -l locale -d 'Browser locale, e.g. en-US' -r
complete -c pvault -n "__fish_pvault_using_subcommand run" -l extension -d 'Load an unpacked extension from DIR (repeatable)' -r -F
complete -c pvault -n "__fish_pvault_using_subcommand run" -l timeout -d 'Inactivity timeout: end the session (saving it if --save) once no CDP client has been connected through its relay for SECS seconds, 10 to 259200 [default: the config\'s `[session] timeout_secs`, 300; --headful and --kiosk sessions time out only when this is given]' -r
complete -c pvault -n "__fish_pvault_using_subcommand run" -l socket -d 'The daemon\'s socket [default: $XDG_RUNTIME_DIR/pvault/pvaultd.sock]' -r -F
complete -c pvault -n "__fish_pvault_using_subcommand run" -l save -d 'Save the final state into the profile when the session ends (one such session per profile at a time)'
complete -c pvault -n "__fish_pvault_using_subcommand run" -l headful -d 'Show a browser window (needs a display)'
complete -c pvault -n "__fish_pvault_using_subcommand run" -l kiosk -d 'Full-screen kiosk window (implies --headful)'
complete -c pvault -n "__fish_pvault_using_subcommand run" -l accept-logout -d 'Turn the logout guard off for this session: what it saves becomes current even if it looks logged out (you log out or switch accounts on purpose)'
complete -c pvault -n "__fish_pvault_using_subcommand run" -l json -d 'Print machine-readable JSON on stdout (errors too, as {"error":{"code","message"}})'
complete -c pvault -n "__fish_pvault_using_subcommand run" -l no-autostart -d 'Never start pvaultd; fail with exit code 69 when it does not answer'
complete -c pvault -n "__fish_pvault_using_subcommand run" -s h -l help -d 'Print help'
complete -c pvault -n "__fish_pvault_using_subcommand run" -s V -l version -d 'Print version'
complete -c pvault -n "__fish_pvault_using_subcommand man" -l dir -d 'Output directory (created if missing)' -r -F
complete -c pvault -n "__fish_pvault_using_subcommand man" -l socket -d 'The daemon\'s socket [default: $XDG_RUNTIME_DIR/pvault/pvaultd.sock]' -r -F
complete -c pvault -n "__fish_pvault_using_subcommand man" -l json -d 'Print machine-readable JSON on stdout (errors too, as {"error":{"code","message"}})'
complete -c pvault -n "__fish_pvault_using_subcommand man" -l no-autostart -d 'Never start pvaultd; fail with exit code 69 when it does not answer'
complete -c pvault -n "__fish_pvault_using_subcommand man" -s h -l help -d 'Print help'
complete -c pvault -n "__fish_pvault_using_subcommand man" -s V -l version -d 'Print version'
complete -c pvault -n "__fish_pvault_using_subcommand completions" -l socket -d 'The daemon\'s socket [default: $XDG_RUNTIME_DIR/pvault/pvaultd.sock]' -r -F
complete -c pvault -n "__fish_pvault_using_subcommand completions" -l json -d 'Print machine-readable JSON on stdout (errors too, as {"error":{"code","message"}})'
complete -c pvault -n "__fish_pvault_using_subcommand completions" -l no-autostart -d 'Never start pvaultd; fail with exit code 69 when it does not answer'
complete -c pvault -n "__fish_pvault_using_subcommand completions" -s h -l help -d 'Print help'
complete -c pvault -n "__fish_pvault_using_subcommand completions" -s V -l version -d 'Print version'
complete -c pvault -n "__fish_pvault_using_subcommand help; and not __fish_seen_subcommand_from init unlock lock status passwd verify backup daemon profile remote session run man completions help" -f -a "init" -d 'Create the vault and leave it unlocked'
complete -c pvault -n "__fish_pvault_using_subcommand help; and not __fish_seen_subcommand_from init unlock lock status passwd verify backup daemon profile remote session run man completions help" -f -a "unlock" -d 'Unlock the vault'
complete -c pvault -n "__fish_pvault_using_subcommand help; and not __fish_seen_subcommand_from init unlock lock status passwd verify backup daemon profile remote session run man completions help" -f -a "lock" -d 'Lock the vault (the daemon forgets the keys)'
complete -c pvault -n "__fish_pvault_using_subcommand help; and not __fish_seen_subcommand_from init unlock lock status passwd verify backup daemon profile remote session run man completions help" -f -a "status" -d 'Show the daemon\'s and the vault\'s state'
complete -c pvault -n "__fish_pvault_using_subcommand help; and not __fish_seen_subcommand_from init unlock lock status passwd verify backup daemon profile remote session run man completions help" -f -a "passwd" -d 'Change the passphrase (or set the key file)'
complete -c pvault -n "__fish_pvault_using_subcommand help; and not __fish_seen_subcommand_from init unlock lock status passwd verify backup daemon profile remote session run man completions help" -f -a "verify" -d 'Authenticate every record of the vault'
complete -c pvault -n "__fish_pvault_using_subcommand help; and not __fish_seen_subcommand_from init unlock lock status passwd verify backup daemon profile remote session run man completions help" -f -a "backup" -d 'Write an (encrypted) copy of the vault to FILE'
complete -c pvault -n "__fish_pvault_using_subcommand help; and not __fish_seen_subcommand_from init unlock lock status passwd verify backup daemon profile remote session run man completions help" -f -a "daemon" -d 'Start or stop the daemon'
complete -c pvault -n "__fish_pvault_using_subcommand help; and not __fish_seen_subcommand_from init unlock lock status passwd verify backup daemon profile remote session run man completions help" -f -a "profile" -d 'Manage profiles and their snapshot history'
complete -c pvault -n "__fish_pvault_using_subcommand help; and not __fish_seen_subcommand_from init unlock lock status passwd verify backup daemon profile remote session run man completions help" -f -a "remote" -d 'Share profiles through remote stores on PostgreSQL (end-to-end encrypted)'
complete -c pvault -n "__fish_pvault_using_subcommand help; and not __fish_seen_subcommand_from init unlock lock status passwd verify backup daemon profile remote session run man completions help" -f -a "session" -d 'Run browser sessions (Chromium over CDP) with a profile loaded'
complete -c pvault -n "__fish_pvault_using_subcommand help; and not __fish_seen_subcommand_from init unlock lock status passwd verify backup daemon profile remote session run man completions help" -f -a "run" -d 'Run CMD with a browser session: PVAULT_CDP_URL and PVAULT_SESSION_ID in its environment; the session ends (saving with --save) when CMD exits, and pvault exits with CMD\'s exit code'
complete -c pvault -n "__fish_pvault_using_subcommand help; and not __fish_seen_subcommand_from init unlock lock status passwd verify backup daemon profile remote session run man completions help" -f -a "man" -d 'Write the man pages into DIR (packaging/generate.sh uses it)'
complete -c pvault -n "__fish_pvault_using_subcommand help; and not __fish_seen_subcommand_from init unlock lock status passwd verify backup daemon profile remote session run man completions help" -f -a "completions" -d 'Print a shell completion script'
complete -c pvault -n "__fish_pvault_using_subcommand help; and not __fish_seen_subcommand_from init unlock lock status passwd verify backup daemon profile remote session run man completions help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c pvault -n "__fish_pvault_using_subcommand help; and __fish_seen_subcommand_from daemon" -f -a "start" -d 'Start pvaultd in the background (no-op if it already answers)'
complete -c pvault -n "__fish_pvault_using_subcommand help; and __fish_seen_subcommand_from daemon" -f -a "stop" -d 'Ask pvaultd to shut down and wait until it has'
complete -c pvault -n "__fish_pvault_using_subcommand help; and __fish_seen_subcommand_from profile" -f -a "create" -d 'Create an empty profile'
complete -c pvault -n "__fish_pvault_using_subcommand help; and __fish_seen_subcommand_from profile" -f -a "list" -d 'List profiles'
complete -c pvault -n "__fish_pvault_using_subcommand help; and __fish_seen_subcommand_from profile" -f -a "show" -d 'Show one profile'
complete -c pvault -n "__fish_pvault_using_subcommand help; and __fish_seen_subcommand_from profile" -f -a "rename" -d 'Rename a profile'
complete -c pvault -n "__fish_pvault_using_subcommand help; and __fish_seen_subcommand_from profile" -f -a "delete" -d 'Delete a profile and its whole history'
complete -c pvault -n "__fish_pvault_using_subcommand help; and __fish_seen_subcommand_from profile" -f -a "import" -d 'Append a snapshot from a Playwright storageState file, or from your own browser with --from-browser (creates the profile if missing)'
complete -c pvault -n "__fish_pvault_using_subcommand help; and __fish_seen_subcommand_from profile" -f -a "export" -d 'Print a snapshot as Playwright storageState JSON (or pvault\'s own, which keeps everything)'
complete -c pvault -n "__fish_pvault_using_subcommand help; and __fish_seen_subcommand_from profile" -f -a "history" -d 'List a profile\'s snapshots, newest first'
complete -c pvault -n "__fish_pvault_using_subcommand help; and __fish_seen_subcommand_from profile" -f -a "diff" -d 'Show what changed between two snapshots [default: the two newest]'
complete -c pvault -n "__fish_pvault_using_subcommand help; and __fish_seen_subcommand_from profile" -f -a "restore" -d 'Append a copy of an older snapshot, making it the newest'
complete -c pvault -n "__fish_pvault_using_subcommand help; and __fish_seen_subcommand_from profile" -f -a "link" -d 'Push a profile\'s history to a remote and link them: its sessions then load the remote\'s newest snapshot, and --save sessions take the remote\'s lease and push'
complete -c pvault -n "__fish_pvault_using_subcommand help; and __fish_seen_subcommand_from profile" -f -a "pull" -d 'Copy a profile that exists only on a remote into the vault, linked'
complete -c pvault -n "__fish_pvault_using_subcommand help; and __fish_seen_subcommand_from profile" -f -a "health" -d 'Define, show or clear the profile\'s login health check'
complete -c pvault -n "__fish_pvault_using_subcommand help; and __fish_seen_subcommand_from profile" -f -a "check" -d 'Check the profile\'s login now: a headless read-only session of its current snapshot opens the health definition\'s page. Exit 0 healthy, 9 logged out, 8 when the browser or the network failed (a server that is down is not a logout)'
complete -c pvault -n "__fish_pvault_using_subcommand help; and __fish_seen_subcommand_from profile" -f -a "accept" -d 'Make a snapshot the logout guard marked `logged_out` current, so the next session loads it [default: the newest snapshot]'
complete -c pvault -n "__fish_pvault_using_subcommand help; and __fish_seen_subcommand_from remote" -f -a "add" -d 'Add a remote store (a postgres:// URL without a password). An empty database becomes a new store with a new team key; an existing store needs --key-file'
complete -c pvault -n "__fish_pvault_using_subcommand help; and __fish_seen_subcommand_from remote" -f -a "list" -d 'List remotes'
complete -c pvault -n "__fish_pvault_using_subcommand help; and __fish_seen_subcommand_from remote" -f -a "remove" -d 'Forget a remote and its links (local profiles and the store stay)'
complete -c pvault -n "__fish_pvault_using_subcommand help; and __fish_seen_subcommand_from remote" -f -a "status" -d 'Reachability, schema version, leases held and saves waiting to be pushed'
complete -c pvault -n "__fish_pvault_using_subcommand help; and __fish_seen_subcommand_from remote" -f -a "export-key" -d 'Write the team key, sealed with a passphrase or key file, to FILE (0600), for `remote add … --key-file FILE` on another machine'
complete -c pvault -n "__fish_pvault_using_subcommand help; and __fish_seen_subcommand_from session" -f -a "start" -d 'Launch Chromium (with a profile loaded, if given) and print its CDP URL'
complete -c pvault -n "__fish_pvault_using_subcommand help; and __fish_seen_subcommand_from session" -f -a "list" -d 'List running sessions'
complete -c pvault -n "__fish_pvault_using_subcommand help; and __fish_seen_subcommand_from session" -f -a "show" -d 'Show one session'
complete -c pvault -n "__fish_pvault_using_subcommand help; and __fish_seen_subcommand_from session" -f -a "stop" -d 'End a session; a `--save` session first captures its state into its profile'
complete -c pvault -n "__fish_pvault_using_subcommand help; and __fish_seen_subcommand_from session" -f -a "capture" -d 'Snapshot a running session into a profile (created if missing) without disturbing it'
complete -c pvault -n "__fish_pvault_using_subcommand help; and __fish_seen_subcommand_from session" -f -a "load" -d 'Load a profile into a running session that has none yet'
complete -c pvault -n "__fish_pvault_using_subcommand help; and __fish_seen_subcommand_from session" -f -a "attach" -d 'Register a Chromium started with --remote-debugging-port as a session (stopping it detaches and leaves the browser running)'
