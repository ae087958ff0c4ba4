
use builtin;
use str;

set edit:completion:arg-completer[airelays] = {|@words|
    fn spaces {|n|
        builtin:repeat $n ' ' | str:join ''
    }
    fn cand {|text desc|
        edit:complex-candidate $text &display=$text' '(spaces (- 14 (wcswidth $text)))$desc
    }
    var command = 'airelays'
    for word $words[1..-1] {
        if (str:has-prefix $word '-') {
            break
        }
        set command = $command';'$word
    }
    var completions = [
        &'airelays'= {
            cand --config 'Config file [env: AIRELAYS_CONFIG] [default: ~/.config/airelays/config.toml]'
            cand --data-dir 'State directory [env: AIRELAYS_DATA_DIR] [default: ~/.local/share/airelays]'
            cand -v 'More log output (-v debug, -vv trace); RUST_LOG also works'
            cand --verbose 'More log output (-v debug, -vv trace); RUST_LOG also works'
            cand -q 'Only errors'
            cand --quiet 'Only errors'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
            cand init 'Write a config file and create the data directory and relay token if missing'
            cand login 'Sign in to ChatGPT (browser, or device code with --device)'
            cand logout 'Revoke and delete the stored ChatGPT credentials'
            cand accounts 'List the signed-in ChatGPT accounts, or remove one'
            cand serve 'Run the relay in the foreground until Ctrl-C'
            cand status 'Report what is configured, signed in and running (no secrets)'
            cand doctor 'Check the set-up end to end: config, sign-in, upstream, relay, clients'
            cand token 'Show or rotate the relay token clients must send'
            cand service 'Run the relay as your service, started at login (systemd, launchd, Task Scheduler)'
            cand logs 'Print or follow the relay''s log file (or the traffic log)'
            cand state 'Clear or check the local store of responses and conversations'
            cand completions 'Print a shell completion script'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'airelays;init'= {
            cand --config 'Config file [env: AIRELAYS_CONFIG] [default: ~/.config/airelays/config.toml]'
            cand --data-dir 'State directory [env: AIRELAYS_DATA_DIR] [default: ~/.local/share/airelays]'
            cand --no-auth 'Configure the relay without a bearer token (loopback only)'
            cand --force 'Overwrite an existing config file'
            cand --show-token 'Print the relay token even if it already existed'
            cand --json 'Print one JSON object'
            cand -v 'More log output (-v debug, -vv trace); RUST_LOG also works'
            cand --verbose 'More log output (-v debug, -vv trace); RUST_LOG also works'
            cand -q 'Only errors'
            cand --quiet 'Only errors'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'airelays;login'= {
            cand --timeout 'Give up after this many seconds [default: auth.login_timeout_seconds]'
            cand --account 'Sign in this account (a-z, 0-9, _ and -; up to 32) [default: default]'
            cand --config 'Config file [env: AIRELAYS_CONFIG] [default: ~/.config/airelays/config.toml]'
            cand --data-dir 'State directory [env: AIRELAYS_DATA_DIR] [default: ~/.local/share/airelays]'
            cand --device 'Use the device-code flow (for remote or headless machines)'
            cand --no-browser 'Print the sign-in URL instead of opening a browser'
            cand -v 'More log output (-v debug, -vv trace); RUST_LOG also works'
            cand --verbose 'More log output (-v debug, -vv trace); RUST_LOG also works'
            cand -q 'Only errors'
            cand --quiet 'Only errors'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'airelays;logout'= {
            cand --account 'Sign out this account [default: default]'
            cand --config 'Config file [env: AIRELAYS_CONFIG] [default: ~/.config/airelays/config.toml]'
            cand --data-dir 'State directory [env: AIRELAYS_DATA_DIR] [default: ~/.local/share/airelays]'
            cand --json 'Print one JSON object: {"revoked", "deleted", "store"}'
            cand -v 'More log output (-v debug, -vv trace); RUST_LOG also works'
            cand --verbose 'More log output (-v debug, -vv trace); RUST_LOG also works'
            cand -q 'Only errors'
            cand --quiet 'Only errors'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'airelays;accounts'= {
            cand --config 'Config file [env: AIRELAYS_CONFIG] [default: ~/.config/airelays/config.toml]'
            cand --data-dir 'State directory [env: AIRELAYS_DATA_DIR] [default: ~/.local/share/airelays]'
            cand --json 'Print one JSON object: {"accounts": [...]}'
            cand --names 'Print only the names, one a line (the shell completions use it)'
            cand -v 'More log output (-v debug, -vv trace); RUST_LOG also works'
            cand --verbose 'More log output (-v debug, -vv trace); RUST_LOG also works'
            cand -q 'Only errors'
            cand --quiet 'Only errors'
            cand -h 'Print help'
            cand --help 'Print help'
            cand remove 'Revoke and delete an account''s credentials (as `logout --account NAME`)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'airelays;accounts;remove'= {
            cand --config 'Config file [env: AIRELAYS_CONFIG] [default: ~/.config/airelays/config.toml]'
            cand --data-dir 'State directory [env: AIRELAYS_DATA_DIR] [default: ~/.local/share/airelays]'
            cand --json 'Print one JSON object: {"revoked", "deleted", "store"}'
            cand -v 'More log output (-v debug, -vv trace); RUST_LOG also works'
            cand --verbose 'More log output (-v debug, -vv trace); RUST_LOG also works'
            cand -q 'Only errors'
            cand --quiet 'Only errors'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'airelays;accounts;help'= {
            cand remove 'Revoke and delete an account''s credentials (as `logout --account NAME`)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'airelays;accounts;help;remove'= {
        }
        &'airelays;accounts;help;help'= {
        }
        &'airelays;serve'= {
            cand --host 'Listen address [default: server.host]'
            cand --port 'Listen port; 0 picks a free one [default: server.port]'
            cand --config 'Config file [env: AIRELAYS_CONFIG] [default: ~/.config/airelays/config.toml]'
            cand --data-dir 'State directory [env: AIRELAYS_DATA_DIR] [default: ~/.local/share/airelays]'
            cand --no-auth 'Accept requests without the relay token (loopback listeners only)'
            cand --ignore-usage-guard 'Let every request through the quota guard (usage.refuse_at_percent)'
            cand --log-file 'Log to <data_dir>/logs/airelays.log (rotated) instead of stderr [config: logging.file]'
            cand -v 'More log output (-v debug, -vv trace); RUST_LOG also works'
            cand --verbose 'More log output (-v debug, -vv trace); RUST_LOG also works'
            cand -q 'Only errors'
            cand --quiet 'Only errors'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'airelays;status'= {
            cand --config 'Config file [env: AIRELAYS_CONFIG] [default: ~/.config/airelays/config.toml]'
            cand --data-dir 'State directory [env: AIRELAYS_DATA_DIR] [default: ~/.local/share/airelays]'
            cand --json 'Print one JSON object (schema: docs/status-json.md)'
            cand -v 'More log output (-v debug, -vv trace); RUST_LOG also works'
            cand --verbose 'More log output (-v debug, -vv trace); RUST_LOG also works'
            cand -q 'Only errors'
            cand --quiet 'Only errors'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'airelays;doctor'= {
            cand --model 'The model of the live probes [default: the listed *-mini model, else the first]'
            cand --config 'Config file [env: AIRELAYS_CONFIG] [default: ~/.config/airelays/config.toml]'
            cand --data-dir 'State directory [env: AIRELAYS_DATA_DIR] [default: ~/.local/share/airelays]'
            cand --json 'Print one JSON object (schema: docs/doctor-json.md)'
            cand --live 'Also spend the refresh token and send a streamed probe and a tool call upstream'
            cand -v 'More log output (-v debug, -vv trace); RUST_LOG also works'
            cand --verbose 'More log output (-v debug, -vv trace); RUST_LOG also works'
            cand -q 'Only errors'
            cand --quiet 'Only errors'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'airelays;token'= {
            cand --config 'Config file [env: AIRELAYS_CONFIG] [default: ~/.config/airelays/config.toml]'
            cand --data-dir 'State directory [env: AIRELAYS_DATA_DIR] [default: ~/.local/share/airelays]'
            cand -v 'More log output (-v debug, -vv trace); RUST_LOG also works'
            cand --verbose 'More log output (-v debug, -vv trace); RUST_LOG also works'
            cand -q 'Only errors'
            cand --quiet 'Only errors'
            cand -h 'Print help'
            cand --help 'Print help'
            cand show 'Print the relay token and the header clients send'
            cand rotate 'Replace the relay token; a running relay accepts only the new one within 1 s'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'airelays;token;show'= {
            cand --config 'Config file [env: AIRELAYS_CONFIG] [default: ~/.config/airelays/config.toml]'
            cand --data-dir 'State directory [env: AIRELAYS_DATA_DIR] [default: ~/.local/share/airelays]'
            cand --json 'Print one JSON object'
            cand -v 'More log output (-v debug, -vv trace); RUST_LOG also works'
            cand --verbose 'More log output (-v debug, -vv trace); RUST_LOG also works'
            cand -q 'Only errors'
            cand --quiet 'Only errors'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'airelays;token;rotate'= {
            cand --config 'Config file [env: AIRELAYS_CONFIG] [default: ~/.config/airelays/config.toml]'
            cand --data-dir 'State directory [env: AIRELAYS_DATA_DIR] [default: ~/.local/share/airelays]'
            cand --json 'Print one JSON object'
            cand -v 'More log output (-v debug, -vv trace); RUST_LOG also works'
            cand --verbose 'More log output (-v debug, -vv trace); RUST_LOG also works'
            cand -q 'Only errors'
            cand --quiet 'Only errors'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'airelays;token;help'= {
            cand show 'Print the relay token and the header clients send'
            cand rotate 'Replace the relay token; a running relay accepts only the new one within 1 s'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'airelays;token;help;show'= {
        }
        &'airelays;token;help;rotate'= {
        }
        &'airelays;token;help;help'= {
        }
        &'airelays;service'= {
            cand --config 'Config file [env: AIRELAYS_CONFIG] [default: ~/.config/airelays/config.toml]'
            cand --data-dir 'State directory [env: AIRELAYS_DATA_DIR] [default: ~/.local/share/airelays]'
            cand -v 'More log output (-v debug, -vv trace); RUST_LOG also works'
            cand --verbose 'More log output (-v debug, -vv trace); RUST_LOG also works'
            cand -q 'Only errors'
            cand --quiet 'Only errors'
            cand -h 'Print help'
            cand --help 'Print help'
            cand install 'Write the service file and start the relay at login (again: replaces it)'
            cand uninstall 'Stop the service and remove exactly what `install` wrote'
            cand status 'Whether the service is installed and running, where it logs, and the sign-in it sees'
            cand start 'Start the installed service'
            cand stop 'Stop the service until the next login (or `service start`)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'airelays;service;install'= {
            cand --config 'Config file [env: AIRELAYS_CONFIG] [default: ~/.config/airelays/config.toml]'
            cand --data-dir 'State directory [env: AIRELAYS_DATA_DIR] [default: ~/.local/share/airelays]'
            cand --no-enable 'Write the service file only; do not register or start it'
            cand --json 'Print one JSON object'
            cand -v 'More log output (-v debug, -vv trace); RUST_LOG also works'
            cand --verbose 'More log output (-v debug, -vv trace); RUST_LOG also works'
            cand -q 'Only errors'
            cand --quiet 'Only errors'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'airelays;service;uninstall'= {
            cand --config 'Config file [env: AIRELAYS_CONFIG] [default: ~/.config/airelays/config.toml]'
            cand --data-dir 'State directory [env: AIRELAYS_DATA_DIR] [default: ~/.local/share/airelays]'
            cand --json 'Print one JSON object'
            cand -v 'More log output (-v debug, -vv trace); RUST_LOG also works'
            cand --verbose 'More log output (-v debug, -vv trace); RUST_LOG also works'
            cand -q 'Only errors'
            cand --quiet 'Only errors'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'airelays;service;status'= {
            cand --config 'Config file [env: AIRELAYS_CONFIG] [default: ~/.config/airelays/config.toml]'
            cand --data-dir 'State directory [env: AIRELAYS_DATA_DIR] [default: ~/.local/share/airelays]'
            cand --json 'Print one JSON object'
            cand -v 'More log output (-v debug, -vv trace); RUST_LOG also works'
            cand --verbose 'More log output (-v debug, -vv trace); RUST_LOG also works'
            cand -q 'Only errors'
            cand --quiet 'Only errors'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'airelays;service;start'= {
            cand --config 'Config file [env: AIRELAYS_CONFIG] [default: ~/.config/airelays/config.toml]'
            cand --data-dir 'State directory [env: AIRELAYS_DATA_DIR] [default: ~/.local/share/airelays]'
            cand --json 'Print one JSON object'
            cand -v 'More log output (-v debug, -vv trace); RUST_LOG also works'
            cand --verbose 'More log output (-v debug, -vv trace); RUST_LOG also works'
            cand -q 'Only errors'
            cand --quiet 'Only errors'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'airelays;service;stop'= {
            cand --config 'Config file [env: AIRELAYS_CONFIG] [default: ~/.config/airelays/config.toml]'
            cand --data-dir 'State directory [env: AIRELAYS_DATA_DIR] [default: ~/.local/share/airelays]'
            cand --json 'Print one JSON object'
            cand -v 'More log output (-v debug, -vv trace); RUST_LOG also works'
            cand --verbose 'More log output (-v debug, -vv trace); RUST_LOG also works'
            cand -q 'Only errors'
            cand --quiet 'Only errors'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'airelays;service;help'= {
            cand install 'Write the service file and start the relay at login (again: replaces it)'
            cand uninstall 'Stop the service and remove exactly what `install` wrote'
            cand status 'Whether the service is installed and running, where it logs, and the sign-in it sees'
            cand start 'Start the installed service'
            cand stop 'Stop the service until the next login (or `service start`)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'airelays;service;help;install'= {
        }
        &'airelays;service;help;uninstall'= {
        }
        &'airelays;service;help;status'= {
        }
        &'airelays;service;help;start'= {
        }
        &'airelays;service;help;stop'= {
        }
        &'airelays;service;help;help'= {
        }
        &'airelays;logs'= {
            cand -n 'How many of the last lines to print first'
            cand --lines 'How many of the last lines to print first'
            cand --config 'Config file [env: AIRELAYS_CONFIG] [default: ~/.config/airelays/config.toml]'
            cand --data-dir 'State directory [env: AIRELAYS_DATA_DIR] [default: ~/.local/share/airelays]'
            cand -f 'Keep printing lines as they are written, across rotations (Ctrl-C ends)'
            cand --follow 'Keep printing lines as they are written, across rotations (Ctrl-C ends)'
            cand --traffic 'The traffic log (logs/traffic-YYYY-MM-DD.jsonl) instead of the relay''s log'
            cand -v 'More log output (-v debug, -vv trace); RUST_LOG also works'
            cand --verbose 'More log output (-v debug, -vv trace); RUST_LOG also works'
            cand -q 'Only errors'
            cand --quiet 'Only errors'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'airelays;state'= {
            cand --config 'Config file [env: AIRELAYS_CONFIG] [default: ~/.config/airelays/config.toml]'
            cand --data-dir 'State directory [env: AIRELAYS_DATA_DIR] [default: ~/.local/share/airelays]'
            cand -v 'More log output (-v debug, -vv trace); RUST_LOG also works'
            cand --verbose 'More log output (-v debug, -vv trace); RUST_LOG also works'
            cand -q 'Only errors'
            cand --quiet 'Only errors'
            cand -h 'Print help'
            cand --help 'Print help'
            cand clear 'Delete every stored response and conversation (a running relay keeps serving)'
            cand check 'Run a full integrity check of the state database'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'airelays;state;clear'= {
            cand --config 'Config file [env: AIRELAYS_CONFIG] [default: ~/.config/airelays/config.toml]'
            cand --data-dir 'State directory [env: AIRELAYS_DATA_DIR] [default: ~/.local/share/airelays]'
            cand --json 'Print one JSON object'
            cand -v 'More log output (-v debug, -vv trace); RUST_LOG also works'
            cand --verbose 'More log output (-v debug, -vv trace); RUST_LOG also works'
            cand -q 'Only errors'
            cand --quiet 'Only errors'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'airelays;state;check'= {
            cand --config 'Config file [env: AIRELAYS_CONFIG] [default: ~/.config/airelays/config.toml]'
            cand --data-dir 'State directory [env: AIRELAYS_DATA_DIR] [default: ~/.local/share/airelays]'
            cand --json 'Print one JSON object'
            cand -v 'More log output (-v debug, -vv trace); RUST_LOG also works'
            cand --verbose 'More log output (-v debug, -vv trace); RUST_LOG also works'
            cand -q 'Only errors'
            cand --quiet 'Only errors'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'airelays;state;help'= {
            cand clear 'Delete every stored response and conversation (a running relay keeps serving)'
            cand check 'Run a full integrity check of the state database'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'airelays;state;help;clear'= {
        }
        &'airelays;state;help;check'= {
        }
        &'airelays;state;help;help'= {
        }
        &'airelays;completions'= {
            cand --config 'Config file [env: AIRELAYS_CONFIG] [default: ~/.config/airelays/config.toml]'
            cand --data-dir 'State directory [env: AIRELAYS_DATA_DIR] [default: ~/.local/share/airelays]'
            cand -v 'More log output (-v debug, -vv trace); RUST_LOG also works'
            cand --verbose 'More log output (-v debug, -vv trace); RUST_LOG also works'
            cand -q 'Only errors'
            cand --quiet 'Only errors'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'airelays;help'= {
            cand init 'Write a config file and create the data directory and relay token if missing'
            cand login 'Sign in to ChatGPT (browser, or device code with --device)'
            cand logout 'Revoke and delete the stored ChatGPT credentials'
            cand accounts 'List the signed-in ChatGPT accounts, or remove one'
            cand serve 'Run the relay in the foreground until Ctrl-C'
            cand status 'Report what is configured, signed in and running (no secrets)'
            cand doctor 'Check the set-up end to end: config, sign-in, upstream, relay, clients'
            cand token 'Show or rotate the relay token clients must send'
            cand service 'Run the relay as your service, started at login (systemd, launchd, Task Scheduler)'
            cand logs 'Print or follow the relay''s log file (or the traffic log)'
            cand state 'Clear or check the local store of responses and conversations'
            cand completions 'Print a shell completion script'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'airelays;help;init'= {
        }
        &'airelays;help;login'= {
        }
        &'airelays;help;logout'= {
        }
        &'airelays;help;accounts'= {
            cand remove 'Revoke and delete an account''s credentials (as `logout --account NAME`)'
        }
        &'airelays;help;accounts;remove'= {
        }
        &'airelays;help;serve'= {
        }
        &'airelays;help;status'= {
        }
        &'airelays;help;doctor'= {
        }
        &'airelays;help;token'= {
            cand show 'Print the relay token and the header clients send'
            cand rotate 'Replace the relay token; a running relay accepts only the new one within 1 s'
        }
        &'airelays;help;token;show'= {
        }
        &'airelays;help;token;rotate'= {
        }
        &'airelays;help;service'= {
            cand install 'Write the service file and start the relay at login (again: replaces it)'
            cand uninstall 'Stop the service and remove exactly what `install` wrote'
            cand status 'Whether the service is installed and running, where it logs, and the sign-in it sees'
            cand start 'Start the installed service'
            cand stop 'Stop the service until the next login (or `service start`)'
        }
        &'airelays;help;service;install'= {
        }
        &'airelays;help;service;uninstall'= {
        }
        &'airelays;help;service;status'= {
        }
        &'airelays;help;service;start'= {
        }
        &'airelays;help;service;stop'= {
        }
        &'airelays;help;logs'= {
        }
        &'airelays;help;state'= {
            cand clear 'Delete every stored response and conversation (a running relay keeps serving)'
            cand check 'Run a full integrity check of the state database'
        }
        &'airelays;help;state;clear'= {
        }
        &'airelays;help;state;check'= {
        }
        &'airelays;help;completions'= {
        }
        &'airelays;help;help'= {
        }
    ]
    $completions[$command]
}
