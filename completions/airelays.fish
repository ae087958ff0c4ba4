# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_airelays_global_optspecs
    string join \n config= data-dir= v/verbose q/quiet h/help V/version
end

function __fish_airelays_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_airelays_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_airelays_using_subcommand
    set -l cmd (__fish_airelays_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c airelays -n "__fish_airelays_needs_command" -l config -d 'Config file [env: AIRELAYS_CONFIG] [default: ~/.config/airelays/config.toml]' -r -F
complete -c airelays -n "__fish_airelays_needs_command" -l data-dir -d 'State directory [env: AIRELAYS_DATA_DIR] [default: ~/.local/share/airelays]' -r -F
complete -c airelays -n "__fish_airelays_needs_command" -s v -l verbose -d 'More log output (-v debug, -vv trace); RUST_LOG also works'
complete -c airelays -n "__fish_airelays_needs_command" -s q -l quiet -d 'Only errors'
complete -c airelays -n "__fish_airelays_needs_command" -s h -l help -d 'Print help'
complete -c airelays -n "__fish_airelays_needs_command" -s V -l version -d 'Print version'
complete -c airelays -n "__fish_airelays_needs_command" -f -a "init" -d 'Write a config file and create the data directory and relay token if missing'
complete -c airelays -n "__fish_airelays_needs_command" -f -a "login" -d 'Sign in to ChatGPT (browser, or device code with --device)'
complete -c airelays -n "__fish_airelays_needs_command" -f -a "logout" -d 'Revoke and delete the stored ChatGPT credentials'
complete -c airelays -n "__fish_airelays_needs_command" -f -a "accounts" -d 'List the signed-in ChatGPT accounts, or remove one'
complete -c airelays -n "__fish_airelays_needs_command" -f -a "serve" -d 'Run the relay in the foreground until Ctrl-C'
complete -c airelays -n "__fish_airelays_needs_command" -f -a "status" -d 'Report what is configured, signed in and running (no secrets)'
complete -c airelays -n "__fish_airelays_needs_command" -f -a "doctor" -d 'Check the set-up end to end: config, sign-in, upstream, relay, clients'
complete -c airelays -n "__fish_airelays_needs_command" -f -a "token" -d 'Show or rotate the relay token clients must send'
complete -c airelays -n "__fish_airelays_needs_command" -f -a "service" -d 'Run the relay as your service, started at login (systemd, launchd, Task Scheduler)'
complete -c airelays -n "__fish_airelays_needs_command" -f -a "logs" -d 'Print or follow the relay\'s log file (or the traffic log)'
complete -c airelays -n "__fish_airelays_needs_command" -f -a "state" -d 'Clear or check the local store of responses and conversations'
complete -c airelays -n "__fish_airelays_needs_command" -f -a "completions" -d 'Print a shell completion script'
complete -c airelays -n "__fish_airelays_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c airelays -n "__fish_airelays_using_subcommand init" -l config -d 'Config file [env: AIRELAYS_CONFIG] [default: ~/.config/airelays/config.toml]' -r -F
complete -c airelays -n "__fish_airelays_using_subcommand init" -l data-dir -d 'State directory [env: AIRELAYS_DATA_DIR] [default: ~/.local/share/airelays]' -r -F
complete -c airelays -n "__fish_airelays_using_subcommand init" -l no-auth -d 'Configure the relay without a bearer token (loopback only)'
complete -c airelays -n "__fish_airelays_using_subcommand init" -l force -d 'Overwrite an existing config file'
complete -c airelays -n "__fish_airelays_using_subcommand init" -l show-token -d 'Print the relay token even if it already existed'
complete -c airelays -n "__fish_airelays_using_subcommand init" -l json -d 'Print one JSON object'
complete -c airelays -n "__fish_airelays_using_subcommand init" -s v -l verbose -d 'More log output (-v debug, -vv trace); RUST_LOG also works'
complete -c airelays -n "__fish_airelays_using_subcommand init" -s q -l quiet -d 'Only errors'
complete -c airelays -n "__fish_airelays_using_subcommand init" -s h -l help -d 'Print help'
complete -c airelays -n "__fish_airelays_using_subcommand login" -l timeout -d 'Give up after this many seconds [default: auth.login_timeout_seconds]' -r
complete -c airelays -n "__fish_airelays_using_subcommand login" -l account -d 'Sign in this account (a-z, 0-9, _ and -; up to 32) [default: default]' -r -f -a "(airelays accounts --names 2>/dev/null)"
complete -c airelays -n "__fish_airelays_using_subcommand login" -l config -d 'Config file [env: AIRELAYS_CONFIG] [default: ~/.config/airelays/config.toml]' -r -F
complete -c airelays -n "__fish_airelays_using_subcommand login" -l data-dir -d 'State directory [env: AIRELAYS_DATA_DIR] [default: ~/.local/share/airelays]' -r -F
complete -c airelays -n "__fish_airelays_using_subcommand login" -l device -d 'Use the device-code flow (for remote or headless machines)'
complete -c airelays -n "__fish_airelays_using_subcommand login" -l no-browser -d 'Print the sign-in URL instead of opening a browser'
complete -c airelays -n "__fish_airelays_using_subcommand login" -s v -l verbose -d 'More log output (-v debug, -vv trace); RUST_LOG also works'
complete -c airelays -n "__fish_airelays_using_subcommand login" -s q -l quiet -d 'Only errors'
complete -c airelays -n "__fish_airelays_using_subcommand login" -s h -l help -d 'Print help'
complete -c airelays -n "__fish_airelays_using_subcommand logout" -l account -d 'Sign out this account [default: default]' -r -f -a "(airelays accounts --names 2>/dev/null)"
complete -c airelays -n "__fish_airelays_using_subcommand logout" -l config -d 'Config file [env: AIRELAYS_CONFIG] [default: ~/.config/airelays/config.toml]' -r -F
complete -c airelays -n "__fish_airelays_using_subcommand logout" -l data-dir -d 'State directory [env: AIRELAYS_DATA_DIR] [default: ~/.local/share/airelays]' -r -F
complete -c airelays -n "__fish_airelays_using_subcommand logout" -l json -d 'Print one JSON object: {"revoked", "deleted", "store"}'
complete -c airelays -n "__fish_airelays_using_subcommand logout" -s v -l verbose -d 'More log output (-v debug, -vv trace); RUST_LOG also works'
complete -c airelays -n "__fish_airelays_using_subcommand logout" -s q -l quiet -d 'Only errors'
complete -c airelays -n "__fish_airelays_using_subcommand logout" -s h -l help -d 'Print help'
complete -c airelays -n "__fish_airelays_using_subcommand accounts; and not __fish_seen_subcommand_from remove help" -l config -d 'Config file [env: AIRELAYS_CONFIG] [default: ~/.config/airelays/config.toml]' -r -F
complete -c airelays -n "__fish_airelays_using_subcommand accounts; and not __fish_seen_subcommand_from remove help" -l data-dir -d 'State directory [env: AIRELAYS_DATA_DIR] [default: ~/.local/share/airelays]' -r -F
complete -c airelays -n "__fish_airelays_using_subcommand accounts; and not __fish_seen_subcommand_from remove help" -l json -d 'Print one JSON object: {"accounts": [...]}'
complete -c airelays -n "__fish_airelays_using_subcommand accounts; and not __fish_seen_subcommand_from remove help" -l names -d 'Print only the names, one a line (the shell completions use it)'
complete -c airelays -n "__fish_airelays_using_subcommand accounts; and not __fish_seen_subcommand_from remove help" -s v -l verbose -d 'More log output (-v debug, -vv trace); RUST_LOG also works'
complete -c airelays -n "__fish_airelays_using_subcommand accounts; and not __fish_seen_subcommand_from remove help" -s q -l quiet -d 'Only errors'
complete -c airelays -n "__fish_airelays_using_subcommand accounts; and not __fish_seen_subcommand_from remove help" -s h -l help -d 'Print help'
complete -c airelays -n "__fish_airelays_using_subcommand accounts; and not __fish_seen_subcommand_from remove help" -f -a "remove" -d 'Revoke and delete an account\'s credentials (as `logout --account NAME`)'
complete -c airelays -n "__fish_airelays_using_subcommand accounts; and not __fish_seen_subcommand_from remove help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c airelays -n "__fish_airelays_using_subcommand accounts; and __fish_seen_subcommand_from remove" -l config -d 'Config file [env: AIRELAYS_CONFIG] [default: ~/.config/airelays/config.toml]' -r -F
complete -c airelays -n "__fish_airelays_using_subcommand accounts; and __fish_seen_subcommand_from remove" -l data-dir -d 'State directory [env: AIRELAYS_DATA_DIR] [default: ~/.local/share/airelays]' -r -F
complete -c airelays -n "__fish_airelays_using_subcommand accounts; and __fish_seen_subcommand_from remove" -l json -d 'Print one JSON object: {"revoked", "deleted", "store"}'
complete -c airelays -n "__fish_airelays_using_subcommand accounts; and __fish_seen_subcommand_from remove" -s v -l verbose -d 'More log output (-v debug, -vv trace); RUST_LOG also works'
complete -c airelays -n "__fish_airelays_using_subcommand accounts; and __fish_seen_subcommand_from remove" -s q -l quiet -d 'Only errors'
complete -c airelays -n "__fish_airelays_using_subcommand accounts; and __fish_seen_subcommand_from remove" -s h -l help -d 'Print help'
complete -c airelays -n "__fish_airelays_using_subcommand accounts; and __fish_seen_subcommand_from help" -f -a "remove" -d 'Revoke and delete an account\'s credentials (as `logout --account NAME`)'
complete -c airelays -n "__fish_airelays_using_subcommand accounts; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c airelays -n "__fish_airelays_using_subcommand serve" -l host -d 'Listen address [default: server.host]' -r
complete -c airelays -n "__fish_airelays_using_subcommand serve" -l port -d 'Listen port; 0 picks a free one [default: server.port]' -r
complete -c airelays -n "__fish_airelays_using_subcommand serve" -l config -d 'Config file [env: AIRELAYS_CONFIG] [default: ~/.config/airelays/config.toml]' -r -F
complete -c airelays -n "__fish_airelays_using_subcommand serve" -l data-dir -d 'State directory [env: AIRELAYS_DATA_DIR] [default: ~/.local/share/airelays]' -r -F
complete -c airelays -n "__fish_airelays_using_subcommand serve" -l no-auth -d 'Accept requests without the relay token (loopback listeners only)'
complete -c airelays -n "__fish_airelays_using_subcommand serve" -l ignore-usage-guard -d 'Let every request through the quota guard (usage.refuse_at_percent)'
complete -c airelays -n "__fish_airelays_using_subcommand serve" -l log-file -d 'Log to <data_dir>/logs/airelays.log (rotated) instead of stderr [config: logging.file]'
complete -c airelays -n "__fish_airelays_using_subcommand serve" -s v -l verbose -d 'More log output (-v debug, -vv trace); RUST_LOG also works'
complete -c airelays -n "__fish_airelays_using_subcommand serve" -s q -l quiet -d 'Only errors'
complete -c airelays -n "__fish_airelays_using_subcommand serve" -s h -l help -d 'Print help'
complete -c airelays -n "__fish_airelays_using_subcommand status" -l config -d 'Config file [env: AIRELAYS_CONFIG] [default: ~/.config/airelays/config.toml]' -r -F
complete -c airelays -n "__fish_airelays_using_subcommand status" -l data-dir -d 'State directory [env: AIRELAYS_DATA_DIR] [default: ~/.local/share/airelays]' -r -F
complete -c airelays -n "__fish_airelays_using_subcommand status" -l json -d 'Print one JSON object (schema: docs/status-json.md)'
complete -c airelays -n "__fish_airelays_using_subcommand status" -s v -l verbose -d 'More log output (-v debug, -vv trace); RUST_LOG also works'
complete -c airelays -n "__fish_airelays_using_subcommand status" -s q -l quiet -d 'Only errors'
complete -c airelays -n "__fish_airelays_using_subcommand status" -s h -l help -d 'Print help'
complete -c airelays -n "__fish_airelays_using_subcommand doctor" -l model -d 'The model of the live probes [default: the listed *-mini model, else the first]' -r
complete -c airelays -n "__fish_airelays_using_subcommand doctor" -l config -d 'Config file [env: AIRELAYS_CONFIG] [default: ~/.config/airelays/config.toml]' -r -F
complete -c airelays -n "__fish_airelays_using_subcommand doctor" -l data-dir -d 'State directory [env: AIRELAYS_DATA_DIR] [default: ~/.local/share/airelays]' -r -F
complete -c airelays -n "__fish_airelays_using_subcommand doctor" -l json -d 'Print one JSON object (schema: docs/doctor-json.md)'
complete -c airelays -n "__fish_airelays_using_subcommand doctor" -l live -d 'Also spend the refresh token and send a streamed probe and a tool call upstream'
complete -c airelays -n "__fish_airelays_using_subcommand doctor" -s v -l verbose -d 'More log output (-v debug, -vv trace); RUST_LOG also works'
complete -c airelays -n "__fish_airelays_using_subcommand doctor" -s q -l quiet -d 'Only errors'
complete -c airelays -n "__fish_airelays_using_subcommand doctor" -s h -l help -d 'Print help'
complete -c airelays -n "__fish_airelays_using_subcommand token; and not __fish_seen_subcommand_from show rotate help" -l config -d 'Config file [env: AIRELAYS_CONFIG] [default: ~/.config/airelays/config.toml]' -r -F
complete -c airelays -n "__fish_airelays_using_subcommand token; and not __fish_seen_subcommand_from show rotate help" -l data-dir -d 'State directory [env: AIRELAYS_DATA_DIR] [default: ~/.local/share/airelays]' -r -F
complete -c airelays -n "__fish_airelays_using_subcommand token; and not __fish_seen_subcommand_from show rotate help" -s v -l verbose -d 'More log output (-v debug, -vv trace); RUST_LOG also works'
complete -c airelays -n "__fish_airelays_using_subcommand token; and not __fish_seen_subcommand_from show rotate help" -s q -l quiet -d 'Only errors'
complete -c airelays -n "__fish_airelays_using_subcommand token; and not __fish_seen_subcommand_from show rotate help" -s h -l help -d 'Print help'
complete -c airelays -n "__fish_airelays_using_subcommand token; and not __fish_seen_subcommand_from show rotate help" -f -a "show" -d 'Print the relay token and the header clients send'
complete -c airelays -n "__fish_airelays_using_subcommand token; and not __fish_seen_subcommand_from show rotate help" -f -a "rotate" -d 'Replace the relay token; a running relay accepts only the new one within 1 s'
complete -c airelays -n "__fish_airelays_using_subcommand token; and not __fish_seen_subcommand_from show rotate help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c airelays -n "__fish_airelays_using_subcommand token; and __fish_seen_subcommand_from show" -l config -d 'Config file [env: AIRELAYS_CONFIG] [default: ~/.config/airelays/config.toml]' -r -F
complete -c airelays -n "__fish_airelays_using_subcommand token; and __fish_seen_subcommand_from show" -l data-dir -d 'State directory [env: AIRELAYS_DATA_DIR] [default: ~/.local/share/airelays]' -r -F
complete -c airelays -n "__fish_airelays_using_subcommand token; and __fish_seen_subcommand_from show" -l json -d 'Print one JSON object'
complete -c airelays -n "__fish_airelays_using_subcommand token; and __fish_seen_subcommand_from show" -s v -l verbose -d 'More log output (-v debug, -vv trace); RUST_LOG also works'
complete -c airelays -n "__fish_airelays_using_subcommand token; and __fish_seen_subcommand_from show" -s q -l quiet -d 'Only errors'
complete -c airelays -n "__fish_airelays_using_subcommand token; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help'
complete -c airelays -n "__fish_airelays_using_subcommand token; and __fish_seen_subcommand_from rotate" -l config -d 'Config file [env: AIRELAYS_CONFIG] [default: ~/.config/airelays/config.toml]' -r -F
complete -c airelays -n "__fish_airelays_using_subcommand token; and __fish_seen_subcommand_from rotate" -l data-dir -d 'State directory [env: AIRELAYS_DATA_DIR] [default: ~/.local/share/airelays]' -r -F
complete -c airelays -n "__fish_airelays_using_subcommand token; and __fish_seen_subcommand_from rotate" -l json -d 'Print one JSON object'
complete -c airelays -n "__fish_airelays_using_subcommand token; and __fish_seen_subcommand_from rotate" -s v -l verbose -d 'More log output (-v debug, -vv trace); RUST_LOG also works'
complete -c airelays -n "__fish_airelays_using_subcommand token; and __fish_seen_subcommand_from rotate" -s q -l quiet -d 'Only errors'
complete -c airelays -n "__fish_airelays_using_subcommand token; and __fish_seen_subcommand_from rotate" -s h -l help -d 'Print help'
complete -c airelays -n "__fish_airelays_using_subcommand token; and __fish_seen_subcommand_from help" -f -a "show" -d 'Print the relay token and the header clients send'
complete -c airelays -n "__fish_airelays_using_subcommand token; and __fish_seen_subcommand_from help" -f -a "rotate" -d 'Replace the relay token; a running relay accepts only the new one within 1 s'
complete -c airelays -n "__fish_airelays_using_subcommand token; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c airelays -n "__fish_airelays_using_subcommand service; and not __fish_seen_subcommand_from install uninstall status start stop help" -l config -d 'Config file [env: AIRELAYS_CONFIG] [default: ~/.config/airelays/config.toml]' -r -F
complete -c airelays -n "__fish_airelays_using_subcommand service; and not __fish_seen_subcommand_from install uninstall status start stop help" -l data-dir -d 'State directory [env: AIRELAYS_DATA_DIR] [default: ~/.local/share/airelays]' -r -F
complete -c airelays -n "__fish_airelays_using_subcommand service; and not __fish_seen_subcommand_from install uninstall status start stop help" -s v -l verbose -d 'More log output (-v debug, -vv trace); RUST_LOG also works'
complete -c airelays -n "__fish_airelays_using_subcommand service; and not __fish_seen_subcommand_from install uninstall status start stop help" -s q -l quiet -d 'Only errors'
complete -c airelays -n "__fish_airelays_using_subcommand service; and not __fish_seen_subcommand_from install uninstall status start stop help" -s h -l help -d 'Print help'
complete -c airelays -n "__fish_airelays_using_subcommand service; and not __fish_seen_subcommand_from install uninstall status start stop help" -f -a "install" -d 'Write the service file and start the relay at login (again: replaces it)'
complete -c airelays -n "__fish_airelays_using_subcommand service; and not __fish_seen_subcommand_from install uninstall status start stop help" -f -a "uninstall" -d 'Stop the service and remove exactly what `install` wrote'
complete -c airelays -n "__fish_airelays_using_subcommand service; and not __fish_seen_subcommand_from install uninstall status start stop help" -f -a "status" -d 'Whether the service is installed and running, where it logs, and the sign-in it sees'
complete -c airelays -n "__fish_airelays_using_subcommand service; and not __fish_seen_subcommand_from install uninstall status start stop help" -f -a "start" -d 'Start the installed service'
complete -c airelays -n "__fish_airelays_using_subcommand service; and not __fish_seen_subcommand_from install uninstall status start stop help" -f -a "stop" -d 'Stop the service until the next login (or `service start`)'
complete -c airelays -n "__fish_airelays_using_subcommand service; and not __fish_seen_subcommand_from install uninstall status start stop help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c airelays -n "__fish_airelays_using_subcommand service; and __fish_seen_subcommand_from install" -l config -d 'Config file [env: AIRELAYS_CONFIG] [default: ~/.config/airelays/config.toml]' -r -F
complete -c airelays -n "__fish_airelays_using_subcommand service; and __fish_seen_subcommand_from install" -l data-dir -d 'State directory [env: AIRELAYS_DATA_DIR] [default: ~/.local/share/airelays]' -r -F
complete -c airelays -n "__fish_airelays_using_subcommand service; and __fish_seen_subcommand_from install" -l no-enable -d 'Write the service file only; do not register or start it'
complete -c airelays -n "__fish_airelays_using_subcommand service; and __fish_seen_subcommand_from install" -l json -d 'Print one JSON object'
complete -c airelays -n "__fish_airelays_using_subcommand service; and __fish_seen_subcommand_from install" -s v -l verbose -d 'More log output (-v debug, -vv trace); RUST_LOG also works'
complete -c airelays -n "__fish_airelays_using_subcommand service; and __fish_seen_subcommand_from install" -s q -l quiet -d 'Only errors'
complete -c airelays -n "__fish_airelays_using_subcommand service; and __fish_seen_subcommand_from install" -s h -l help -d 'Print help'
complete -c airelays -n "__fish_airelays_using_subcommand service; and __fish_seen_subcommand_from uninstall" -l config -d 'Config file [env: AIRELAYS_CONFIG] [default: ~/.config/airelays/config.toml]' -r -F
complete -c airelays -n "__fish_airelays_using_subcommand service; and __fish_seen_subcommand_from uninstall" -l data-dir -d 'State directory [env: AIRELAYS_DATA_DIR] [default: ~/.local/share/airelays]' -r -F
complete -c airelays -n "__fish_airelays_using_subcommand service; and __fish_seen_subcommand_from uninstall" -l json -d 'Print one JSON object'
complete -c airelays -n "__fish_airelays_using_subcommand service; and __fish_seen_subcommand_from uninstall" -s v -l verbose -d 'More log output (-v debug, -vv trace); RUST_LOG also works'
complete -c airelays -n "__fish_airelays_using_subcommand service; and __fish_seen_subcommand_from uninstall" -s q -l quiet -d 'Only errors'
complete -c airelays -n "__fish_airelays_using_subcommand service; and __fish_seen_subcommand_from uninstall" -s h -l help -d 'Print help'
complete -c airelays -n "__fish_airelays_using_subcommand service; and __fish_seen_subcommand_from status" -l config -d 'Config file [env: AIRELAYS_CONFIG] [default: ~/.config/airelays/config.toml]' -r -F
complete -c airelays -n "__fish_airelays_using_subcommand service; and __fish_seen_subcommand_from status" -l data-dir -d 'State directory [env: AIRELAYS_DATA_DIR] [default: ~/.local/share/airelays]' -r -F
complete -c airelays -n "__fish_airelays_using_subcommand service; and __fish_seen_subcommand_from status" -l json -d 'Print one JSON object'
complete -c airelays -n "__fish_airelays_using_subcommand service; and __fish_seen_subcommand_from status" -s v -l verbose -d 'More log output (-v debug, -vv trace); RUST_LOG also works'
complete -c airelays -n "__fish_airelays_using_subcommand service; and __fish_seen_subcommand_from status" -s q -l quiet -d 'Only errors'
complete -c airelays -n "__fish_airelays_using_subcommand service; and __fish_seen_subcommand_from status" -s h -l help -d 'Print help'
complete -c airelays -n "__fish_airelays_using_subcommand service; and __fish_seen_subcommand_from start" -l config -d 'Config file [env: AIRELAYS_CONFIG] [default: ~/.config/airelays/config.toml]' -r -F
complete -c airelays -n "__fish_airelays_using_subcommand service; and __fish_seen_subcommand_from start" -l data-dir -d 'State directory [env: AIRELAYS_DATA_DIR] [default: ~/.local/share/airelays]' -r -F
complete -c airelays -n "__fish_airelays_using_subcommand service; and __fish_seen_subcommand_from start" -l json -d 'Print one JSON object'
complete -c airelays -n "__fish_airelays_using_subcommand service; and __fish_seen_subcommand_from start" -s v -l verbose -d 'More log output (-v debug, -vv trace); RUST_LOG also works'
complete -c airelays -n "__fish_airelays_using_subcommand service; and __fish_seen_subcommand_from start" -s q -l quiet -d 'Only errors'
complete -c airelays -n "__fish_airelays_using_subcommand service; and __fish_seen_subcommand_from start" -s h -l help -d 'Print help'
complete -c airelays -n "__fish_airelays_using_subcommand service; and __fish_seen_subcommand_from stop" -l config -d 'Config file [env: AIRELAYS_CONFIG] [default: ~/.config/airelays/config.toml]' -r -F
complete -c airelays -n "__fish_airelays_using_subcommand service; and __fish_seen_subcommand_from stop" -l data-dir -d 'State directory [env: AIRELAYS_DATA_DIR] [default: ~/.local/share/airelays]' -r -F
complete -c airelays -n "__fish_airelays_using_subcommand service; and __fish_seen_subcommand_from stop" -l json -d 'Print one JSON object'
complete -c airelays -n "__fish_airelays_using_subcommand service; and __fish_seen_subcommand_from stop" -s v -l verbose -d 'More log output (-v debug, -vv trace); RUST_LOG also works'
complete -c airelays -n "__fish_airelays_using_subcommand service; and __fish_seen_subcommand_from stop" -s q -l quiet -d 'Only errors'
complete -c airelays -n "__fish_airelays_using_subcommand service; and __fish_seen_subcommand_from stop" -s h -l help -d 'Print help'
complete -c airelays -n "__fish_airelays_using_subcommand service; and __fish_seen_subcommand_from help" -f -a "install" -d 'Write the service file and start the relay at login (again: replaces it)'
complete -c airelays -n "__fish_airelays_using_subcommand service; and __fish_seen_subcommand_from help" -f -a "uninstall" -d 'Stop the service and remove exactly what `install` wrote'
complete -c airelays -n "__fish_airelays_using_subcommand service; and __fish_seen_subcommand_from help" -f -a "status" -d 'Whether the service is installed and running, where it logs, and the sign-in it sees'
complete -c airelays -n "__fish_airelays_using_subcommand service; and __fish_seen_subcommand_from help" -f -a "start" -d 'Start the installed service'
complete -c airelays -n "__fish_airelays_using_subcommand service; and __fish_seen_subcommand_from help" -f -a "stop" -d 'Stop the service until the next login (or `service start`)'
complete -c airelays -n "__fish_airelays_using_subcommand service; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c airelays -n "__fish_airelays_using_subcommand logs" -s n -l lines -d 'How many of the last lines to print first' -r
complete -c airelays -n "__fish_airelays_using_subcommand logs" -l config -d 'Config file [env: AIRELAYS_CONFIG] [default: ~/.config/airelays/config.toml]' -r -F
complete -c airelays -n "__fish_airelays_using_subcommand logs" -l data-dir -d 'State directory [env: AIRELAYS_DATA_DIR] [default: ~/.local/share/airelays]' -r -F
complete -c airelays -n "__fish_airelays_using_subcommand logs" -s f -l follow -d 'Keep printing lines as they are written, across rotations (Ctrl-C ends)'
complete -c airelays -n "__fish_airelays_using_subcommand logs" -l traffic -d 'The traffic log (logs/traffic-YYYY-MM-DD.jsonl) instead of the relay\'s log'
complete -c airelays -n "__fish_airelays_using_subcommand logs" -s v -l verbose -d 'More log output (-v debug, -vv trace); RUST_LOG also works'
complete -c airelays -n "__fish_airelays_using_subcommand logs" -s q -l quiet -d 'Only errors'
complete -c airelays -n "__fish_airelays_using_subcommand logs" -s h -l help -d 'Print help'
complete -c airelays -n "__fish_airelays_using_subcommand state; and not __fish_seen_subcommand_from clear check help" -l config -d 'Config file [env: AIRELAYS_CONFIG] [default: ~/.config/airelays/config.toml]' -r -F
complete -c airelays -n "__fish_airelays_using_subcommand state; and not __fish_seen_subcommand_from clear check help" -l data-dir -d 'State directory [env: AIRELAYS_DATA_DIR] [default: ~/.local/share/airelays]' -r -F
complete -c airelays -n "__fish_airelays_using_subcommand state; and not __fish_seen_subcommand_from clear check help" -s v -l verbose -d 'More log output (-v debug, -vv trace); RUST_LOG also works'
complete -c airelays -n "__fish_airelays_using_subcommand state; and not __fish_seen_subcommand_from clear check help" -s q -l quiet -d 'Only errors'
complete -c airelays -n "__fish_airelays_using_subcommand state; and not __fish_seen_subcommand_from clear check help" -s h -l help -d 'Print help'
complete -c airelays -n "__fish_airelays_using_subcommand state; and not __fish_seen_subcommand_from clear check help" -f -a "clear" -d 'Delete every stored response and conversation (a running relay keeps serving)'
complete -c airelays -n "__fish_airelays_using_subcommand state; and not __fish_seen_subcommand_from clear check help" -f -a "check" -d 'Run a full integrity check of the state database'
complete -c airelays -n "__fish_airelays_using_subcommand state; and not __fish_seen_subcommand_from clear check help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c airelays -n "__fish_airelays_using_subcommand state; and __fish_seen_subcommand_from clear" -l config -d 'Config file [env: AIRELAYS_CONFIG] [default: ~/.config/airelays/config.toml]' -r -F
complete -c airelays -n "__fish_airelays_using_subcommand state; and __fish_seen_subcommand_from clear" -l data-dir -d 'State directory [env: AIRELAYS_DATA_DIR] [default: ~/.local/share/airelays]' -r -F
complete -c airelays -n "__fish_airelays_using_subcommand state; and __fish_seen_subcommand_from clear" -l json -d 'Print one JSON object'
complete -c airelays -n "__fish_airelays_using_subcommand state; and __fish_seen_subcommand_from clear" -s v -l verbose -d 'More log output (-v debug, -vv trace); RUST_LOG also works'
complete -c airelays -n "__fish_airelays_using_subcommand state; and __fish_seen_subcommand_from clear" -s q -l quiet -d 'Only errors'
complete -c airelays -n "__fish_airelays_using_subcommand state; and __fish_seen_subcommand_from clear" -s h -l help -d 'Print help'
complete -c airelays -n "__fish_airelays_using_subcommand state; and __fish_seen_subcommand_from check" -l config -d 'Config file [env: AIRELAYS_CONFIG] [default: ~/.config/airelays/config.toml]' -r -F
complete -c airelays -n "__fish_airelays_using_subcommand state; and __fish_seen_subcommand_from check" -l data-dir -d 'State directory [env: AIRELAYS_DATA_DIR] [default: ~/.local/share/airelays]' -r -F
complete -c airelays -n "__fish_airelays_using_subcommand state; and __fish_seen_subcommand_from check" -l json -d 'Print one JSON object'
complete -c airelays -n "__fish_airelays_using_subcommand state; and __fish_seen_subcommand_from check" -s v -l verbose -d 'More log output (-v debug, -vv trace); RUST_LOG also works'
complete -c airelays -n "__fish_airelays_using_subcommand state; and __fish_seen_subcommand_from check" -s q -l quiet -d 'Only errors'
complete -c airelays -n "__fish_airelays_using_subcommand state; and __fish_seen_subcommand_from check" -s h -l help -d 'Print help'
complete -c airelays -n "__fish_airelays_using_subcommand state; and __fish_seen_subcommand_from help" -f -a "clear" -d 'Delete every stored response and conversation (a running relay keeps serving)'
complete -c airelays -n "__fish_airelays_using_subcommand state; and __fish_seen_subcommand_from help" -f -a "check" -d 'Run a full integrity check of the state database'
complete -c airelays -n "__fish_airelays_using_subcommand state; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c airelays -n "__fish_airelays_using_subcommand completions" -l config -d 'Config file [env: AIRELAYS_CONFIG] [default: ~/.config/airelays/config.toml]' -r -F
complete -c airelays -n "__fish_airelays_using_subcommand completions" -l data-dir -d 'State directory [env: AIRELAYS_DATA_DIR] [default: ~/.local/share/airelays]' -r -F
complete -c airelays -n "__fish_airelays_using_subcommand completions" -s v -l verbose -d 'More log output (-v debug, -vv trace); RUST_LOG also works'
complete -c airelays -n "__fish_airelays_using_subcommand completions" -s q -l quiet -d 'Only errors'
complete -c airelays -n "__fish_airelays_using_subcommand completions" -s h -l help -d 'Print help'
complete -c airelays -n "__fish_airelays_using_subcommand help; and not __fish_seen_subcommand_from init login logout accounts serve status doctor token service logs state completions help" -f -a "init" -d 'Write a config file and create the data directory and relay token if missing'
complete -c airelays -n "__fish_airelays_using_subcommand help; and not __fish_seen_subcommand_from init login logout accounts serve status doctor token service logs state completions help" -f -a "login" -d 'Sign in to ChatGPT (browser, or device code with --device)'
complete -c airelays -n "__fish_airelays_using_subcommand help; and not __fish_seen_subcommand_from init login logout accounts serve status doctor token service logs state completions help" -f -a "logout" -d 'Revoke and delete the stored ChatGPT credentials'
complete -c airelays -n "__fish_airelays_using_subcommand help; and not __fish_seen_subcommand_from init login logout accounts serve status doctor token service logs state completions help" -f -a "accounts" -d 'List the signed-in ChatGPT accounts, or remove one'
complete -c airelays -n "__fish_airelays_using_subcommand help; and not __fish_seen_subcommand_from init login logout accounts serve status doctor token service logs state completions help" -f -a "serve" -d 'Run the relay in the foreground until Ctrl-C'
complete -c airelays -n "__fish_airelays_using_subcommand help; and not __fish_seen_subcommand_from init login logout accounts serve status doctor token service logs state completions help" -f -a "status" -d 'Report what is configured, signed in and running (no secrets)'
complete -c airelays -n "__fish_airelays_using_subcommand help; and not __fish_seen_subcommand_from init login logout accounts serve status doctor token service logs state completions help" -f -a "doctor" -d 'Check the set-up end to end: config, sign-in, upstream, relay, clients'
complete -c airelays -n "__fish_airelays_using_subcommand help; and not __fish_seen_subcommand_from init login logout accounts serve status doctor token service logs state completions help" -f -a "token" -d 'Show or rotate the relay token clients must send'
complete -c airelays -n "__fish_airelays_using_subcommand help; and not __fish_seen_subcommand_from init login logout accounts serve status doctor token service logs state completions help" -f -a "service" -d 'Run the relay as your service, started at login (systemd, launchd, Task Scheduler)'
complete -c airelays -n "__fish_airelays_using_subcommand help; and not __fish_seen_subcommand_from init login logout accounts serve status doctor token service logs state completions help" -f -a "logs" -d 'Print or follow the relay\'s log file (or the traffic log)'
complete -c airelays -n "__fish_airelays_using_subcommand help; and not __fish_seen_subcommand_from init login logout accounts serve status doctor token service logs state completions help" -f -a "state" -d 'Clear or check the local store of responses and conversations'
complete -c airelays -n "__fish_airelays_using_subcommand help; and not __fish_seen_subcommand_from init login logout accounts serve status doctor token service logs state completions help" -f -a "completions" -d 'Print a shell completion script'
complete -c airelays -n "__fish_airelays_using_subcommand help; and not __fish_seen_subcommand_from init login logout accounts serve status doctor token service logs state completions help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c airelays -n "__fish_airelays_using_subcommand help; and __fish_seen_subcommand_from accounts" -f -a "remove" -d 'Revoke and delete an account\'s credentials (as `logout --account NAME`)'
complete -c airelays -n "__fish_airelays_using_subcommand help; and __fish_seen_subcommand_from token" -f -a "show" -d 'Print the relay token and the header clients send'
complete -c airelays -n "__fish_airelays_using_subcommand help; and __fish_seen_subcommand_from token" -f -a "rotate" -d 'Replace the relay token; a running relay accepts only the new one within 1 s'
complete -c airelays -n "__fish_airelays_using_subcommand help; and __fish_seen_subcommand_from service" -f -a "install" -d 'Write the service file and start the relay at login (again: replaces it)'
complete -c airelays -n "__fish_airelays_using_subcommand help; and __fish_seen_subcommand_from service" -f -a "uninstall" -d 'Stop the service and remove exactly what `install` wrote'
complete -c airelays -n "__fish_airelays_using_subcommand help; and __fish_seen_subcommand_from service" -f -a "status" -d 'Whether the service is installed and running, where it logs, and the sign-in it sees'
complete -c airelays -n "__fish_airelays_using_subcommand help; and __fish_seen_subcommand_from service" -f -a "start" -d 'Start the installed service'
complete -c airelays -n "__fish_airelays_using_subcommand help; and __fish_seen_subcommand_from service" -f -a "stop" -d 'Stop the service until the next login (or `service start`)'
complete -c airelays -n "__fish_airelays_using_subcommand help; and __fish_seen_subcommand_from state" -f -a "clear" -d 'Delete every stored response and conversation (a running relay keeps serving)'
complete -c airelays -n "__fish_airelays_using_subcommand help; and __fish_seen_subcommand_from state" -f -a "check" -d 'Run a full integrity check of the state database'
complete -c airelays -n "__fish_airelays_using_subcommand accounts; and __fish_seen_subcommand_from remove" -f -a "(airelays accounts --names 2>/dev/null)"
